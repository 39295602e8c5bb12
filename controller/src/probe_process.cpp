#include "probe_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/media_kind.hpp"

namespace microscape::controller {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

using Clock = std::chrono::steady_clock;

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

std::string describeStatus(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

Result<pack::MediaInfo> parseAnswer(const std::string& text, ProbeRun& run) {
    auto doc = json::parse(text.substr(0, text.find('\n')));
    if (!doc || !doc->isObject()) {
        run.detail = "unparsable answer: " + text.substr(0, 200);
        return makeError(Errc::Internal, "the media probe gave no usable answer");
    }
    const json::Value& v = *doc;
    if (const auto* s = v.find("sandbox")) run.sandbox = json::canonical(*s);
    auto str = [&](const char* k) -> std::string {
        const auto* f = v.find(k);
        return f && f->isString() ? f->asString() : std::string();
    };
    auto num = [&](const char* k) -> std::int64_t {
        const auto* f = v.find(k);
        return f && f->isInt() ? f->asInt() : 0;
    };
    const auto* ok = v.find("ok");
    if (!ok || !ok->isBool()) {
        run.detail = "answer without ok: " + text.substr(0, 200);
        return makeError(Errc::Internal, "the media probe gave no usable answer");
    }
    if (!ok->asBool()) {
        const std::string code = str("code");
        run.detail = code + ": " + str("message");
        run.refusal = str("refusal");
        if (code == "BadMedia" || code == "Io") {
            if (run.refusal.empty()) run.refusal = "no_picture";
            return makeError(Errc::BadMedia, str("message"));
        }
        return makeError(Errc::Internal, "the media probe failed: " + str("message"));
    }
    pack::MediaInfo info;
    info.kind = mediaKindFromName(str("kind"));
    info.mime = str("mime");
    info.codec = str("codec");
    info.durationMs = num("durationMs");
    info.width = static_cast<int>(num("width"));
    info.height = static_cast<int>(num("height"));
    if (info.kind == MediaKind::Unknown || info.durationMs < 0 || info.width < 0 || info.height < 0 ||
        info.width > 100000 || info.height > 100000) {
        run.detail = "implausible answer: " + text.substr(0, 200);
        return makeError(Errc::Internal, "the media probe gave no usable answer");
    }
    return info;
}

}  // namespace

fs::path defaultProbeHelper() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "/usr/bin/microscape-probe";
    return self.parent_path() / "microscape-probe";
}

Result<pack::MediaInfo> probeInHelper(const fs::path& file, const ProbeOptions& options, ProbeRun* runOut) {
    ProbeRun scratch;
    ProbeRun& run = runOut ? *runOut : scratch;
    const auto started = Clock::now();
    auto finish = [&](Result<pack::MediaInfo> r) {
        run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        return r;
    };

    Fd media(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (media.fd < 0) {
        run.detail = "cannot open " + file.string() + ": " + std::strerror(errno);
        return finish(makeError(Errc::Io, "the upload could not be read back"));
    }
    // Run as root, the helper drops to "nobody" and reopens the file through
    // /proc/self/fd/0, which needs read permission for others; the file stays
    // private through the 0700 data directory.
    if (::geteuid() == 0) ::fchmod(media.fd, 0644);
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
        run.detail = std::string("pipe: ") + std::strerror(errno);
        return finish(makeError(Errc::Io, "the media probe could not be started"));
    }
    Fd out(pipeFds[0]), outWrite(pipeFds[1]);
    Fd devNull(::open("/dev/null", O_WRONLY | O_CLOEXEC));

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, media.fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, outWrite.fd, STDOUT_FILENO);
    if (devNull.fd >= 0) posix_spawn_file_actions_adddup2(&actions, devNull.fd, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // nothing else of ours reaches it
    posix_spawn_file_actions_addchdir_np(&actions, "/");
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, killed as a whole
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const std::string helper = options.helper.string();
    std::vector<char*> argv{const_cast<char*>(helper.c_str()), nullptr};
    char env0[] = "PATH=/usr/bin:/bin";
    char env1[] = "LC_ALL=C.UTF-8";
    std::vector<char*> envp{env0, env1, nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, helper.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    outWrite.reset();
    devNull.reset();
    media.reset();
    if (rc != 0) {
        run.detail = "cannot start " + helper + ": " + std::strerror(rc);
        return finish(makeError(Errc::Io, "the media probe could not be started"));
    }

    const auto deadline = started + std::chrono::milliseconds(options.timeoutMs);
    auto msLeft = [&] {
        return static_cast<int>(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    };
    std::string answer;
    bool timedOut = false;
    while (true) {
        const int wait = msLeft();
        if (wait == 0) {
            timedOut = true;
            break;
        }
        pollfd p{out.fd, POLLIN, 0};
        const int n = ::poll(&p, 1, wait);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;  // the loop sees the deadline
        char buf[4096];
        const ssize_t got = ::read(out.fd, buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) break;  // end of its output
        answer.append(buf, static_cast<std::size_t>(got));
        if (answer.size() > kMaxAnswerBytes) break;
    }
    out.reset();
    // Wait for it to end without reaping it, so that its process group id cannot
    // be reused before the group is killed (a helper may leave children behind).
    while (!timedOut) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            break;
        if (msLeft() == 0)
            timedOut = true;
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timedOut) {
        run.detail = helper + " still running after " + std::to_string(options.timeoutMs) + " ms; killed";
        return finish(makeError(Errc::Internal, "the media probe did not finish within " +
                                                    std::to_string((options.timeoutMs + 999) / 1000) +
                                                    " s and was stopped"));
    }
    if (WIFSIGNALED(status)) {
        run.detail = helper + " " + describeStatus(status);
        return finish(
            makeError(Errc::Internal, "the media probe crashed (signal " + std::to_string(WTERMSIG(status)) + ")"));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        run.detail = helper + " " + describeStatus(status);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            return finish(makeError(Errc::Io, "the media probe could not be started"));
        return finish(makeError(Errc::Internal, "the media probe failed (" + describeStatus(status) + ")"));
    }
    return finish(parseAnswer(answer, run));
}

}  // namespace microscape::controller
