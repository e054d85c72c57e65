// A report written as its checks are made: for commands with many checks (certs secrets over
// thousands of Secrets, certs file over thousands of files), where keeping every Check and
// building the whole JSON document costs more memory than the work itself.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/report/report.h"

namespace kp::core {

// Where a command's checks go as they are made.
class CheckSink {
 public:
  virtual ~CheckSink() = default;
  virtual void add(Check check) = 0;
  // Before every check added so far (e.g. a summary known only at the end).
  virtual void add_first(Check check) = 0;
};

// The checks of a Report in memory (for text output, and for tests).
class ReportSink final : public CheckSink {
 public:
  explicit ReportSink(Report& report) : report_(report) {}
  void add(Check check) override;
  void add_first(Check check) override;

 private:
  Report& report_;
};

// -o json or -o yaml, byte for byte what render() prints for the same Report, written as the
// checks come: each check is rendered when added and only its text is kept, in memory up to a
// few MiB and then in an unnamed temporary file (memory again if none can be made). The verdict
// and failed layer come before the checks in the document, so it is written by finish().
class ReportStream final : public CheckSink {
 public:
  // `format` json or yaml; text needs every check at once (render_text over a Report).
  ReportStream(std::ostream& out, OutputFormat format, std::string tool, Target target,
               int schemaVersion = 1);
  ~ReportStream() override;
  ReportStream(const ReportStream&) = delete;
  ReportStream& operator=(const ReportStream&) = delete;

  void add(Check check) override;
  void add_first(Check check) override;

  // Writes the document (with `timings`, when any). Once.
  void finish(const std::vector<EndpointTiming>& timings = {});

  // As verdict(), failed_layer() and exit_code() over a Report of the checks added so far.
  CheckStatus verdict() const;
  std::optional<Layer> failed_layer() const { return failedLayer_; }
  int exit_code(FailOn failOn) const;
  std::size_t checks() const { return count_; }

 private:
  std::string render_check(const Check& check) const;
  void note(const Check& check);
  void spill();

  std::ostream& out_;
  OutputFormat format_;
  Report header_;  // schemaVersion, tool and target; no checks
  std::size_t count_ = 0;
  std::optional<CheckStatus> worst_;
  std::optional<Layer> failedLayer_;
  std::string first_;  // checks from add_first(), newest first, each ending in its separator
  std::string body_;   // checks from add(), each starting with its separator
  bool bodyEmpty_ = true;
  struct FileCloser {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, FileCloser> spilled_;  // the body's older part
  bool noSpill_ = false;
};

}  // namespace kp::core
