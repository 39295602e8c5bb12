// A small HTTP/1.1 media mirror on 127.0.0.1 for tests: serves GET
// /media/<sha256> from a map, one request per connection, honouring a single
// "Range: bytes=N-", and can misbehave on purpose (wrong bytes, a connection
// cut half way, an error status, a redirect). Records each request's path and
// Range. Thread-safe; the server thread is joined by the destructor.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace microscape::testing {

class MiniMirror {
  public:
    enum class Mode {
        Good,      // the file, or the range asked for (206)
        Wrong,     // the right length, one byte flipped in the middle of the file
        CutHalf,   // Content-Length of the whole answer, but only up to the file's middle, then close
        Error503,  // 503 Service Unavailable
        Redirect,  // 302 to redirectTo + the path
    };

    MiniMirror() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        socket_.setReceiveTimeout(Poco::Timespan(0, 100'000));
        thread_ = std::thread([this] { run(); });
    }
    ~MiniMirror() {
        stop_ = true;
        thread_.join();
    }
    MiniMirror(const MiniMirror&) = delete;
    MiniMirror& operator=(const MiniMirror&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()); }
    void add(const std::string& sha, const std::string& bytes) {
        std::lock_guard lock(mutex_);
        files_[sha] = bytes;
    }
    void setMode(Mode m) { mode_ = m; }
    void setRedirect(const std::string& to) {
        std::lock_guard lock(mutex_);
        redirectTo_ = to;
    }
    struct Request {
        std::string path;
        std::string range;  // "" when none
    };
    std::vector<Request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::uint64_t bytesSent() const { return bytesSent_; }

  private:
    void run() {
        while (!stop_) {
            Poco::Net::StreamSocket s;
            try {
                s = socket_.acceptConnection();
            } catch (...) {
                continue;  // the accept timeout: look at stop_ again
            }
            try {
                serve(s);
            } catch (...) {
            }
            try {
                s.shutdown();
            } catch (...) {
            }
            s.close();
        }
    }

    void send(Poco::Net::StreamSocket& s, const std::string& text) {
        std::size_t at = 0;
        while (at < text.size()) {
            const int n = s.sendBytes(text.data() + at, static_cast<int>(text.size() - at));
            if (n <= 0) return;
            at += static_cast<std::size_t>(n);
        }
    }

    void serve(Poco::Net::StreamSocket& s) {
        s.setReceiveTimeout(Poco::Timespan(5, 0));
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
            const int n = s.receiveBytes(buf, sizeof buf);
            if (n <= 0) return;
            head.append(buf, static_cast<std::size_t>(n));
        }
        const auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
        const std::string path = head.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string range;
        for (const char* name : {"\r\nRange: ", "\r\nrange: "})
            if (auto r = head.find(name); r != std::string::npos) {
                const auto from = r + std::string(name).size();
                range = head.substr(from, head.find("\r\n", from) - from);
            }
        std::string body;
        bool found = false;
        std::string redirectTo;
        {
            std::lock_guard lock(mutex_);
            requests_.push_back({path, range});
            const std::string prefix = "/media/";
            if (path.rfind(prefix, 0) == 0)
                if (auto it = files_.find(path.substr(prefix.size())); it != files_.end()) {
                    body = it->second;
                    found = true;
                }
            redirectTo = redirectTo_;
        }
        const Mode mode = mode_;
        if (mode == Mode::Error503) {
            send(s, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        if (mode == Mode::Redirect) {
            send(s, "HTTP/1.1 302 Found\r\nLocation: " + redirectTo + path +
                        "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        if (!found) {
            send(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        const std::uint64_t size = body.size();
        if (mode == Mode::Wrong && size > 0) body[size / 2] = static_cast<char>(body[size / 2] ^ 0x5a);
        std::uint64_t first = 0;
        if (range.rfind("bytes=", 0) == 0) first = std::stoull(range.substr(6));
        std::string status = "200 OK", extra;
        if (first > 0) {
            status = "206 Partial Content";
            extra = "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(size - 1) + "/" +
                    std::to_string(size) + "\r\n";
        }
        std::string part = body.substr(first);
        send(s, "HTTP/1.1 " + status + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                    std::to_string(part.size()) + "\r\n" + extra + "Connection: close\r\n\r\n");
        if (mode == Mode::CutHalf) part = first < size / 2 ? part.substr(0, size / 2 - first) : std::string();
        send(s, part);
        bytesSent_ += part.size();
    }

    Poco::Net::ServerSocket socket_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<Mode> mode_{Mode::Good};
    std::atomic<std::uint64_t> bytesSent_{0};
    mutable std::mutex mutex_;  // guards files_, requests_, redirectTo_
    std::map<std::string, std::string> files_;
    std::vector<Request> requests_;
    std::string redirectTo_;
};

}  // namespace microscape::testing
