#include "core/report/stream.h"

#include <array>
#include <utility>

#include "core/report/report_detail.h"

namespace kp::core {
namespace {

// The body is kept in memory up to this size, then moved to the temporary file.
constexpr std::size_t kSpillBytes = std::size_t{4} << 20;

// `text` with `indent` put before each line.
std::string indented(const std::string& text, std::string_view indent) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  out += indent;
  for (const char c : text) {
    out += c;
    if (c == '\n') {
      out += indent;
    }
  }
  return out;
}

// Where the checks go in the document rendered with none: `"checks": []` in JSON (on its own
// line, two spaces in), and in YAML `checks:` with `[]` on the next line (yaml-cpp's empty
// block sequence). What is kept of each: up to `[` (JSON), up to `checks:` (YAML).
constexpr std::string_view kJsonEmpty = "\n  \"checks\": []";
constexpr std::string_view kYamlEmpty = "\nchecks:\n  []";
constexpr std::size_t kJsonCut = 1;  // "]"
constexpr std::size_t kYamlCut = 5;  // "\n  []"

// Between two checks.
std::string_view separator(OutputFormat format) {
  return format == OutputFormat::yaml ? "\n" : ",\n";
}

}  // namespace

void ReportSink::add(Check check) {
  report_.checks.push_back(std::move(check));
}

void ReportSink::add_first(Check check) {
  report_.checks.insert(report_.checks.begin(), std::move(check));
}

ReportStream::ReportStream(std::ostream& out, OutputFormat format, std::string tool, Target target,
                           int schemaVersion)
    : out_(out), format_(format) {
  header_.schemaVersion = schemaVersion;
  header_.tool = std::move(tool);
  header_.target = std::move(target);
}

ReportStream::~ReportStream() = default;

std::string ReportStream::render_check(const Check& check) const {
  if (format_ == OutputFormat::yaml) {
    // "- id: ..." as the document's sequence item, two spaces in under "checks:".
    return indented(detail::yaml_text(detail::check_json(check), true), "  ");
  }
  // An element of "checks": four spaces in.
  return indented(detail::dump_utf8(detail::check_json(check), 2), "    ");
}

void ReportStream::note(const Check& check) {
  ++count_;
  if (!worst_ || detail::severity(check.status) > detail::severity(*worst_)) {
    worst_ = check.status;
  }
  if (check.status == CheckStatus::fail && (!failedLayer_ || check.layer < *failedLayer_)) {
    failedLayer_ = check.layer;
  }
}

void ReportStream::add(Check check) {
  note(check);
  if (!bodyEmpty_) {
    body_ += separator(format_);
  }
  bodyEmpty_ = false;
  body_ += render_check(check);
  if (body_.size() >= kSpillBytes) {
    spill();
  }
}

void ReportStream::add_first(Check check) {
  note(check);
  first_ = render_check(check) + std::string(separator(format_)) + first_;
}

void ReportStream::spill() {
  if (noSpill_) {
    return;
  }
  if (!spilled_) {
    spilled_.reset(std::tmpfile());
    if (!spilled_) {
      noSpill_ = true;  // no temporary directory: the body stays in memory
      return;
    }
  }
  if (std::fwrite(body_.data(), 1, body_.size(), spilled_.get()) != body_.size()) {
    noSpill_ = true;  // a full disk: what was written stays, the rest stays in memory
    return;
  }
  body_.clear();
}

CheckStatus ReportStream::verdict() const {
  return worst_.value_or(CheckStatus::ok);
}

int ReportStream::exit_code(FailOn failOn) const {
  const CheckStatus worst = verdict();
  return worst == CheckStatus::fail || (worst == CheckStatus::warn && failOn == FailOn::warn) ? 1
                                                                                              : 0;
}

void ReportStream::finish(const std::vector<EndpointTiming>& timings) {
  header_.timings = timings;
  const nlohmann::ordered_json document = detail::document_json(header_, verdict(), failedLayer_);
  const bool yaml = format_ == OutputFormat::yaml;
  const std::string empty =
      yaml ? detail::yaml_text(document, false) + "\n" : detail::dump_utf8(document, 2) + "\n";
  const std::string_view marker = yaml ? kYamlEmpty : kJsonEmpty;
  const std::size_t at = empty.find(marker);
  if (count_ == 0 || at == std::string::npos) {
    out_ << empty;
    return;
  }
  const std::size_t after = at + marker.size();
  // Up to "checks:" (YAML) or "checks": [ (JSON), then the checks on the next line.
  out_ << std::string_view(empty).substr(0, after - (yaml ? kYamlCut : kJsonCut)) << '\n';
  if (bodyEmpty_ && !first_.empty()) {
    // Only add_first() checks: the last separator is not needed.
    first_.resize(first_.size() - separator(format_).size());
  }
  out_ << first_;
  if (spilled_) {
    std::fflush(spilled_.get());
    std::rewind(spilled_.get());
    std::array<char, 1 << 16> chunk{};
    for (std::size_t got = 0;
         (got = std::fread(chunk.data(), 1, chunk.size(), spilled_.get())) > 0;) {
      out_.write(chunk.data(), static_cast<std::streamsize>(got));
    }
    spilled_.reset();
  }
  out_ << body_;
  out_ << (yaml ? "" : "\n  ]") << std::string_view(empty).substr(after);
  body_.clear();
  first_.clear();
}

}  // namespace kp::core
