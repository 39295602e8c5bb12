#include "store/change_feed.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>

namespace microscape::controller::sql {

void announce(Conn& c, std::string_view payload) {
    if (c.backend() != Backend::Postgres) return;
    if (payload.size() > 7999) throw Error("change announcement longer than 7999 bytes");
    c.exec("SELECT pg_notify(?, ?)", {std::string(kChangeChannel), std::string(payload)});
}

ChangeFeed::ChangeFeed(const StoreUrl& url, Callbacks callbacks) : url_(url), callbacks_(std::move(callbacks)) {
    if (url_.backend != Backend::Postgres) return;
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
    // Wait for the first LISTEN, so a change committed after we return is seen.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!listening_.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

ChangeFeed::~ChangeFeed() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();
    }
}

namespace {

struct PgConnDeleter {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

PgConnPtr connectAndListen(const StoreUrl& url) {
    std::vector<const char*> keys{"dbname", "application_name", "connect_timeout"};
    std::vector<const char*> values{url.conninfo.c_str(), "microscape-controller-feed", "10"};
    if (!url.password.empty()) {
        keys.push_back("password");
        values.push_back(url.password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PgConnPtr c(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) return nullptr;
    // A server going away is expected here (the feed reconnects), not news for stderr.
    PQsetNoticeProcessor(
        c.get(), [](void*, const char*) {}, nullptr);
    const std::string sql = "LISTEN " + std::string(kChangeChannel);
    PGresult* r = PQexec(c.get(), sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? std::move(c) : nullptr;
}

}  // namespace

void ChangeFeed::run(std::stop_token stop) {
    int backoffMs = 100;
    bool first = true;
    while (!stop.stop_requested()) {
        PgConnPtr conn = connectAndListen(url_);
        if (!conn) {
            // The server is away: try again, a little later each time (at most 5 s).
            for (int waited = 0; waited < backoffMs && !stop.stop_requested(); waited += 50)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            backoffMs = std::min(backoffMs * 2, 5000);
            continue;
        }
        backoffMs = 100;
        if (!first) {
            reconnects_.fetch_add(1);
            if (callbacks_.onResync) callbacks_.onResync();
        }
        first = false;
        listening_.store(true);
        // Wait on the socket, waking every 200 ms to see whether we must stop.
        while (!stop.stop_requested()) {
            pollfd pfd{PQsocket(conn.get()), POLLIN, 0};
            const int n = ::poll(&pfd, 1, 200);
            if (n < 0 && errno != EINTR) break;
            if (n <= 0) continue;
            if (!PQconsumeInput(conn.get())) break;  // the connection is gone
            while (PGnotify* note = PQnotifies(conn.get())) {
                std::string payload = note->extra ? note->extra : "";
                PQfreemem(note);
                delivered_.fetch_add(1);
                if (callbacks_.onChange) callbacks_.onChange(payload);
            }
            if (PQstatus(conn.get()) != CONNECTION_OK) break;
        }
    }
}

}  // namespace microscape::controller::sql
