#include "confined_run.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

namespace microscape::controller {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxErrBytes = 16 * 1024;

// Only async-signal-safe calls between fork and exec (the controller has threads).
[[noreturn]] void child(char* const* argv, char* const* envp, int inFd, int outFd, int errFd, int devNull,
                        const ConfinedLimits& l, uid_t uid, gid_t gid) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    if (::dup2(inFd >= 0 ? inFd : devNull, 0) < 0 || ::dup2(outFd >= 0 ? outFd : devNull, 1) < 0 ||
        ::dup2(errFd, 2) < 0)
        ::_exit(126);
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (::chdir("/") != 0) ::_exit(126);
    const rlimit noCore{0, 0}, as{l.addressSpaceBytes, l.addressSpaceBytes},
        cpu{static_cast<rlim_t>(l.cpuSeconds), static_cast<rlim_t>(l.cpuSeconds)},
        fsize{l.fileSizeBytes, l.fileSizeBytes};
    ::setrlimit(RLIMIT_CORE, &noCore);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    ::setrlimit(RLIMIT_AS, &as);
#else
    (void)as;
#endif
    ::setrlimit(RLIMIT_CPU, &cpu);
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    if (::geteuid() == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
        if (::setuid(0) == 0) ::_exit(126);
    }
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    ::execve(argv[0], argv, envp);
    ::_exit(127);
}

}  // namespace

std::string ConfinedRun::describe() const {
    if (!started) return "could not be started";
    if (timedOut) return "killed after its time limit";
    if (signal == SIGXCPU) return "stopped at its CPU-time limit";
    if (signal == SIGXFSZ) return "stopped at its output-size limit";
    if (signal) return "killed by signal " + std::to_string(signal);
    return "exit status " + std::to_string(exitCode);
}

ConfinedRun runConfined(const std::vector<std::string>& args, int stdinFd, int stdoutFd, const ConfinedLimits& limits,
                        const std::vector<std::string>& env) {
    ConfinedRun run;
    const auto started = Clock::now();
    std::vector<std::string> envs = env;
    envs.push_back("PATH=/usr/bin:/bin");
    envs.push_back("LC_ALL=C.UTF-8");
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    uid_t uid = 65534;
    gid_t gid = 65534;
    if (::geteuid() == 0) {
        passwd pw{}, *res = nullptr;
        char buf[1024];
        if (::getpwnam_r("nobody", &pw, buf, sizeof buf, &res) == 0 && res) {
            uid = pw.pw_uid;
            gid = pw.pw_gid;
        }
        // The output is an open descriptor; tools that reopen it (ffmpeg's
        // +faststart) need it to be theirs.
        if (stdoutFd >= 0 && ::fchown(stdoutFd, uid, gid) != 0) return run;
        if (stdinFd >= 0) ::fchmod(stdinFd, 0644);
    }
    int errPipe[2];
    if (::pipe2(errPipe, O_CLOEXEC) != 0) return run;
    const int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid == 0) child(argv.data(), envp.data(), stdinFd, stdoutFd, errPipe[1], devNull, limits, uid, gid);
    ::close(errPipe[1]);
    if (devNull >= 0) ::close(devNull);
    if (pid < 0) {
        ::close(errPipe[0]);
        return run;
    }
    run.started = true;
    ::setpgid(pid, pid);  // (also done by the child: whichever runs first)
    const auto deadline = started + std::chrono::milliseconds(limits.timeoutMs);
    auto msLeft = [&] {
        return static_cast<int>(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    };
    while (true) {
        const int wait = msLeft();
        if (wait == 0) {
            run.timedOut = true;
            break;
        }
        pollfd p{errPipe[0], POLLIN, 0};
        const int n = ::poll(&p, 1, wait);
        if (n <= 0) continue;
        char buf[4096];
        const ssize_t got = ::read(errPipe[0], buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;
        run.err.append(buf, static_cast<std::size_t>(got));
        if (run.err.size() > kMaxErrBytes) run.err.erase(0, run.err.size() - kMaxErrBytes);
    }
    ::close(errPipe[0]);
    // Wait for it without reaping, so that its group id stays its own until the group is killed.
    while (!run.timedOut) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            break;
        if (msLeft() == 0)
            run.timedOut = true;
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) run.exitCode = WEXITSTATUS(status);
    if (WIFSIGNALED(status) && !run.timedOut) run.signal = WTERMSIG(status);
    run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return run;
}

}  // namespace microscape::controller
