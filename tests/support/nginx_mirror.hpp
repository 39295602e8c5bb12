// Debian's nginx as a media mirror, started on 127.0.0.1 with the shipped
// deploy/nginx/microscape-mirror.conf (its listen address, cache directory
// and controller URL replaced) inside a main configuration whose pid, logs,
// temp and cache paths are all under one directory. Runs without a master
// process, as the calling user (no user directive; safe as root). Stopped
// (SIGTERM, waited for) by the destructor. Single-threaded use.
#pragma once

#include "wait_for.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace microscape::testing {

class NginxMirror {
  public:
    static constexpr const char* kNginx = "/usr/sbin/nginx";
    static bool available() { return ::access(kNginx, X_OK) == 0; }

    // confFile: deploy/nginx/microscape-mirror.conf; origin: the controller's URL
    // ("https://127.0.0.1:PORT"); dir: an empty directory for everything nginx writes.
    NginxMirror(const std::filesystem::path& confFile, const std::string& origin, const std::filesystem::path& dir)
        : dir_(dir) {
        std::ifstream in(confFile);
        if (!in) throw std::runtime_error("cannot read " + confFile.string());
        std::stringstream ss;
        ss << in.rdbuf();
        std::string conf = ss.str();
        for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
            port_ = freePort();
            std::string mine = conf;
            replace(mine, "listen 8080;", "listen 127.0.0.1:" + std::to_string(port_) + ";");
            replace(mine, "/var/cache/nginx/microscape-media", (dir_ / "cache").string());
            replace(mine, "https://controller.example.cn:8443", origin);
            std::ofstream(dir_ / "mirror.conf") << mine;
            const std::string d = dir_.string();
            std::ofstream(dir_ / "nginx.conf")
                << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << d << "/nginx.pid;\nerror_log " << d
                << "/error.log info;\nevents { worker_connections 512; }\nhttp {\n"
                << " log_format mirror '$request_uri $status $upstream_cache_status $body_bytes_sent';\n"
                << " access_log " << d << "/access.log mirror;\n client_body_temp_path " << d << "/client;\n"
                << " proxy_temp_path " << d << "/proxy;\n fastcgi_temp_path " << d << "/fastcgi;\n"
                << " uwsgi_temp_path " << d << "/uwsgi;\n scgi_temp_path " << d << "/scgi;\n include " << d
                << "/mirror.conf;\n}\n";
            pid_ = ::fork();
            if (pid_ == 0) {
                const std::string log = (dir_ / "stderr.log").string();
                if (FILE* f = std::freopen(log.c_str(), "a", stderr)) (void)f;
                ::execl(kNginx, "nginx", "-p", d.c_str(), "-c", (dir_ / "nginx.conf").c_str(),
                        static_cast<char*>(nullptr));
                ::_exit(127);
            }
            // Up when the port answers; a port taken meanwhile ends nginx: try another.
            const bool up = waitFor(
                                [&] {
                                    int st = 0;
                                    if (::waitpid(pid_, &st, WNOHANG) == pid_) pid_ = -1;  // ended: stop waiting
                                    return pid_ <= 0 || answers(port_);
                                },
                                30000, 25) &&
                            pid_ > 0;
            if (!up && pid_ > 0) stop();
        }
        if (pid_ <= 0) {
            std::string why;
            for (const char* f : {"stderr.log", "error.log"}) {
                std::ifstream log(dir_ / f);
                std::stringstream text;
                text << log.rdbuf();
                why += text.str();
            }
            throw std::runtime_error("nginx did not start: " + why.substr(why.size() > 2000 ? why.size() - 2000 : 0));
        }
    }
    ~NginxMirror() { stop(); }
    NginxMirror(const NginxMirror&) = delete;
    NginxMirror& operator=(const NginxMirror&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::filesystem::path accessLog() const { return dir_ / "access.log"; }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

  private:
    // Every occurrence (comments too); at least one.
    static void replace(std::string& s, const std::string& from, const std::string& to) {
        auto at = s.find(from);
        if (at == std::string::npos) throw std::runtime_error("microscape-mirror.conf has no '" + from + "'");
        for (; at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    }
    static int freePort() {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
        ::close(s);
        return ntohs(a.sin_port);
    }
    static bool answers(int port) {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(s);
        return ok;
    }

    std::filesystem::path dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace microscape::testing
