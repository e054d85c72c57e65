// The ELF64 definitions kubectl_binary.cpp reads (and its unit test writes): <elf.h> where the
// C library ships it (Linux); where it does not (macOS), the same layout and constants, spelled
// here as in glibc's <elf.h>.
#pragma once

#if __has_include(<elf.h>)
#include <elf.h>
#else
#include <cstdint>

using Elf64_Half = std::uint16_t;
using Elf64_Word = std::uint32_t;
using Elf64_Addr = std::uint64_t;
using Elf64_Off = std::uint64_t;
using Elf64_Xword = std::uint64_t;

#define EI_NIDENT 16
struct Elf64_Ehdr {
  unsigned char e_ident[EI_NIDENT];
  Elf64_Half e_type;
  Elf64_Half e_machine;
  Elf64_Word e_version;
  Elf64_Addr e_entry;
  Elf64_Off e_phoff;
  Elf64_Off e_shoff;
  Elf64_Word e_flags;
  Elf64_Half e_ehsize;
  Elf64_Half e_phentsize;
  Elf64_Half e_phnum;
  Elf64_Half e_shentsize;
  Elf64_Half e_shnum;
  Elf64_Half e_shstrndx;
};
struct Elf64_Shdr {
  Elf64_Word sh_name;
  Elf64_Word sh_type;
  Elf64_Xword sh_flags;
  Elf64_Addr sh_addr;
  Elf64_Off sh_offset;
  Elf64_Xword sh_size;
  Elf64_Word sh_link;
  Elf64_Word sh_info;
  Elf64_Xword sh_addralign;
  Elf64_Xword sh_entsize;
};
#define ELFMAG "\177ELF"
#define SELFMAG 4
#define EI_CLASS 4
#define ELFCLASS64 2
#define EI_DATA 5
#define ELFDATA2LSB 1
#define EI_VERSION 6
#define EV_CURRENT 1
#define ET_EXEC 2
#define EM_X86_64 62
#define SHT_PROGBITS 1
#define SHT_STRTAB 3
#endif
