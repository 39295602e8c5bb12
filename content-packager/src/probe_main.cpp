// microscape-probe: probes one untrusted media file with libvlc in a process of
// its own, so that a decoder bug met while parsing an upload never runs inside
// the controller, which holds the content signing key. The controller starts it
// with the upload open on standard input, an empty environment and no other
// open files, reads one JSON line from standard output, and kills it after a
// timeout (docs/controller-api.md, "Media probing").
//
// Before it reads anything the helper confines itself:
//   - run as root: it drops to the user "nobody" (no groups); libvlc reopens
//     the file as /proc/self/fd/0, so it must then be readable by others (the
//     controller makes its temporary upload so; the data directory is 0700);
//   - no new privileges; no core dumps; no files written (RLIMIT_FSIZE 0);
//     bounded memory and CPU time;
//   - Landlock (Linux 5.13+): reading only system files (/usr, /lib*, the few
//     /etc files libraries need, its own /proc/self, /proc/cpuinfo and
//     /proc/meminfo, /sys/devices/system/cpu) and the file on
//     standard input; no writing or creating anywhere; with Landlock ABI 4+ no
//     TCP; with ABI 6+ no signals to and no abstract sockets of other processes.
// So the key files under the controller's data directory cannot be opened even
// when the helper runs as the controller's own user. Where the kernel has no
// Landlock the output says "landlock":0 and the process boundary, the dropped
// user (as root), the closed descriptors and the limits remain.
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "microscape/core/json.hpp"
#include "microscape/core/media_kind.hpp"
#include "microscape/pack/probe.hpp"

namespace {

using namespace microscape;

constexpr const char* kUsage =
    "usage: microscape-probe                     probe the media file open on standard input\n"
    "       microscape-probe --check-read PATH   confine as for a probe, then say whether PATH can "
    "be read\n"
    "\n"
    "Prints one JSON line: "
    "{\"ok\":true,\"kind\",\"mime\",\"durationMs\",\"width\",\"height\",\"sandbox\"}\n"
    "or {\"ok\":false,\"code\",\"message\",\"sandbox\"}. Started by microscape-controller for each "
    "upload.\n"
    "\n"
    "Exit status: 0 when it answered (the JSON says whether the file is usable), 64 for a\n"
    "bad command line (docs/exit-codes.md).\n";

// Landlock constants newer than the build machine's kernel headers (stable ABI).
constexpr std::uint64_t kFsTruncate = 1ull << 14;        // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ull << 15;        // ABI 5
constexpr std::uint64_t kNetBindTcp = 1ull << 0;         // ABI 4
constexpr std::uint64_t kNetConnectTcp = 1ull << 1;      // ABI 4
constexpr std::uint64_t kScopeAbstractUnix = 1ull << 0;  // ABI 6
constexpr std::uint64_t kScopeSignal = 1ull << 1;        // ABI 6

struct RulesetAttr {  // struct landlock_ruleset_attr, ABI 6 layout
    std::uint64_t handledAccessFs = 0;
    std::uint64_t handledAccessNet = 0;
    std::uint64_t scoped = 0;
};

struct Sandbox {
    int landlockAbi = 0;  // 0: not available
    uid_t uid = 0;
    std::string problem;  // what could not be set up (the probe still runs)
};

// Read access to a file or directory tree; missing paths are skipped.
void allowRead(int ruleset, const char* path, bool directory) {
    int fd = ::open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return;
    landlock_path_beneath_attr rule{};
    rule.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | (directory ? LANDLOCK_ACCESS_FS_READ_DIR : 0);
    rule.parent_fd = fd;
    ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    ::close(fd);
}

int confineFiles(int mediaFd, std::string& problem) {
    const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        problem = "no Landlock in this kernel";
        return 0;
    }
    RulesetAttr attr;
    attr.handledAccessFs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                           LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                           LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
                           LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                           LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) attr.handledAccessFs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) attr.handledAccessFs |= kFsTruncate;
    if (abi >= 5) attr.handledAccessFs |= kFsIoctlDev;
    std::size_t attrSize = sizeof(std::uint64_t);
    if (abi >= 4) {
        attr.handledAccessNet = kNetBindTcp | kNetConnectTcp;
        attrSize = 2 * sizeof(std::uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = kScopeAbstractUnix | kScopeSignal;
        attrSize = sizeof attr;
    }
    const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, attrSize, 0));
    if (ruleset < 0) {
        problem = std::string("Landlock ruleset refused: ") + std::strerror(errno);
        return 0;
    }
    // /proc/self resolves to this process's own directory; other processes'
    // entries stay out of reach (Landlock also refuses ptrace-like access).
    for (const char* dir : {"/usr", "/lib", "/lib64", "/etc/fonts", "/proc/self", "/sys/devices/system/cpu"})
        allowRead(ruleset, dir, true);
    for (const char* file : {"/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
                             "/proc/cpuinfo", "/proc/meminfo", "/dev/null", "/dev/urandom"})
        allowRead(ruleset, file, false);
    // The upload itself, reopened by libvlc as /proc/self/fd/0.
    landlock_path_beneath_attr rule{};
    rule.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE;
    rule.parent_fd = mediaFd;
    ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    const long rc = ::syscall(SYS_landlock_restrict_self, ruleset, 0);
    ::close(ruleset);
    if (rc != 0) {
        problem = std::string("Landlock restriction refused: ") + std::strerror(errno);
        return 0;
    }
    return static_cast<int>(abi);
}

Sandbox confine(int mediaFd) {
    Sandbox s;
    if (::geteuid() == 0) {
        uid_t uid = 65534;
        gid_t gid = 65534;
        if (const passwd* pw = ::getpwnam("nobody")) {
            uid = pw->pw_uid;
            gid = pw->pw_gid;
        }
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0 || ::setuid(0) == 0) {
            std::cout << R"({"code":"Internal","message":"the probe could not drop root","ok":false})" << std::endl;
            ::_exit(1);
        }
    }
    s.uid = ::getuid();
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    const rlimit noCore{0, 0}, noFiles{0, 0}, memory{2ull << 30, 2ull << 30}, cpu{120, 120};
    ::setrlimit(RLIMIT_CORE, &noCore);
    struct stat out {};
    if (::fstat(STDOUT_FILENO, &out) != 0 || !S_ISREG(out.st_mode))  // (the answer may go to a file by hand)
        ::setrlimit(RLIMIT_FSIZE, &noFiles);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)memory;  // a sanitized build maps terabytes of shadow memory: an address-space cap would refuse every file
#else
    ::setrlimit(RLIMIT_AS, &memory);
#endif
    ::setrlimit(RLIMIT_CPU, &cpu);
    s.landlockAbi = confineFiles(mediaFd, s.problem);
    return s;
}

json::Value sandboxJson(const Sandbox& s) {
    json::Object o{{"landlock", s.landlockAbi}, {"uid", static_cast<std::int64_t>(s.uid)}};
    if (!s.problem.empty()) o["problem"] = s.problem;
    return o;
}

int reply(json::Object o, const Sandbox& s) {
    o["sandbox"] = sandboxJson(s);
    std::cout << json::canonical(json::Value(std::move(o))) << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << kUsage;
        return 0;
    }
    if (args.size() == 2 && args[0] == "--check-read") {
        const Sandbox s = confine(-1);
        const int fd = ::open(args[1].c_str(), O_RDONLY | O_CLOEXEC);
        const int err = errno;
        if (fd >= 0) ::close(fd);
        return reply(json::Object{{"ok", true}, {"readable", fd >= 0}, {"error", fd >= 0 ? "" : std::strerror(err)}},
                     s);
    }
    if (!args.empty()) {
        std::cerr << "microscape-probe: unexpected argument '" << args[0] << "'\n" << kUsage;
        return 64;  // a bad command line (docs/exit-codes.md)
    }
    const Sandbox s = confine(STDIN_FILENO);
    auto prober = pack::MediaProber::create();
    if (!prober)
        return reply(json::Object{{"ok", false}, {"code", "Internal"}, {"message", prober.error().message}}, s);
    pack::Refusal refusal;
    auto info = prober->probeFd(STDIN_FILENO, "the file", true, 10000, &refusal);
    if (!info) {
        json::Object o{{"ok", false}, {"code", std::string(errcName(info.code()))}, {"message", info.error().message}};
        if (!refusal.code.empty()) o["refusal"] = refusal.code;
        return reply(std::move(o), s);
    }
    return reply(json::Object{{"ok", true},
                              {"kind", std::string(mediaKindName(info->kind))},
                              {"mime", info->mime},
                              {"codec", info->codec},
                              {"durationMs", info->durationMs},
                              {"width", info->width},
                              {"height", info->height}},
                 s);
}
