// What run_process's two halves (process_posix.cpp, process_win.cpp) share: the loop that reads
// a started child's output within the spec's limits until it ends, its deadline passes or it is
// cancelled (process.cpp). Not a public header: only those files include it.
#pragma once

#include <string>

#include "core/util/process.h"

namespace kp::core::detail {

// The platform's side of a started child and the read ends of its stdout and stderr pipes
// (both closed when the output is not captured).
class RunningChild {
 public:
  virtual ~RunningChild() = default;
  // True once it has exited; never blocks.
  virtual bool exited() = 0;
  virtual bool out_open() const = 0;
  virtual bool err_open() const = 0;
  // Appends what the pipe holds now, a bounded amount, without blocking; closes the pipe at
  // its end or on an error.
  virtual void read_out(std::string& into) = 0;
  virtual void read_err(std::string& into) = 0;
  // Waits up to `ms` for output or the child's exit; false on an error that ends the run.
  virtual bool wait(int ms) = 0;
  // Kills one still running (with what it started); one that exited is left alone.
  virtual void kill() = 0;
  // Its exit code; -1 when it was killed or its status is unknown.
  virtual int exit_code() const = 0;
};

// Reads the child's output into the result (stderr to spec.onStderr too) until the child has
// exited and closed its pipes (or spec.graceAfterExit after its exit, for grandchildren that
// hold them), spec.timeout passes, spec.cancelled() says so, or stdout passes spec.stdoutLimit
// with spec.killOverStdoutLimit; then kills it.
ProcessResult supervise(const ProcessSpec& spec, RunningChild& child);

}  // namespace kp::core::detail
