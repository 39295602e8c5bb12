// A throwaway PostgreSQL 15 cluster for tests: initdb and pg_ctl from
// Debian's postgresql-15 in a temporary directory, listening only on a Unix
// socket in that directory. initdb refuses to run as root, so under root the
// cluster's programs run as the unprivileged user nobody. Not thread-safe.
#pragma once

#include <filesystem>
#include <string>

namespace microscape::testing {

class PgCluster {
  public:
    // initdb + start. Throws std::runtime_error with the programs' output.
    PgCluster();
    ~PgCluster();  // stops the server (immediate) and removes the directory
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    // A new empty database; returns its store URL (postgresql:///NAME?host=SOCKETDIR&user=microscape).
    std::string createDatabase();
    std::string url(const std::string& database) const;
    // The server's own programs can be found.
    static bool available();

    void stop();   // fast shutdown: connections are cut
    void start();  // after stop()
    const std::filesystem::path& dir() const { return dir_; }

  private:
    void run(const std::string& command, const std::string& what) const;
    std::string asOwner(const std::string& command) const;

    std::filesystem::path dir_;
    std::filesystem::path bin_;
    int databases_ = 0;
    bool running_ = false;
};

}  // namespace microscape::testing
