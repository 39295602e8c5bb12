// Test helper: run a program with arguments, capture its exit code, stdout and
// stderr. For tests only (blocking; reads both pipes with poll()).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace microscape::testing {

struct ProcessResult {
    int exitCode = -1;  // 128 + signal if killed by a signal
    std::string out;
    std::string err;
};

inline ProcessResult runProcess(const std::vector<std::string>& argv, const std::string& stdinData = "") {
    int outPipe[2], errPipe[2], inPipe[2];
    if (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0 || ::pipe2(inPipe, O_CLOEXEC) != 0)
        return {};
    // Built before fork(): the child of a multi-threaded test (an in-process
    // server) may not allocate before exec.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(inPipe[0], 0);
        ::dup2(outPipe[1], 1);
        ::dup2(errPipe[1], 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(outPipe[1]);
    ::close(errPipe[1]);
    ::close(inPipe[0]);
    if (!stdinData.empty()) {
        std::size_t off = 0;
        while (off < stdinData.size()) {
            ssize_t n = ::write(inPipe[1], stdinData.data() + off, stdinData.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
    }
    ::close(inPipe[1]);
    ProcessResult r;
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (::poll(fds, 2, -1) < 0) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// A program running in the background with stdout and stderr appended to a log
// file, stopped with SIGTERM (and waited for) when it goes out of scope.
// posix_spawn, not fork: no atfork handlers or inherited signal handlers run in a
// copy of a multi-threaded test process (an in-process controller) before the
// exec; the child inherits none of the test's descriptors (the controller's
// listeners) and starts with default signal handling.
class SpawnedProcess {
  public:
    SpawnedProcess(const std::vector<std::string>& argv, const std::string& logFile) {
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (::posix_spawn(&pid_, args[0], &fa, &attr, args.data(), environ) != 0) pid_ = -1;
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
    }
    SpawnedProcess(const SpawnedProcess&) = delete;
    SpawnedProcess& operator=(const SpawnedProcess&) = delete;
    ~SpawnedProcess() { kill(SIGTERM); }

    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    // Sends `sig` and waits for the end. Returns the waitpid status, -1 if it
    // was not running.
    int kill(int sig) {
        if (pid_ <= 0) return -1;
        ::kill(pid_, sig);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        return st;
    }

  private:
    pid_t pid_ = -1;
};

// Runs a shell command line (for fixture generation with ffmpeg/convert).
inline int runShell(const std::string& command) {
    return runProcess({"/bin/sh", "-c", command}).exitCode;
}

}  // namespace microscape::testing
