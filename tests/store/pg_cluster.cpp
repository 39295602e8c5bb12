#include "pg_cluster.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace microscape::testing {
namespace {

std::filesystem::path findBin() {
    for (const char* v : {"15", "16", "17"}) {
        std::filesystem::path p = std::filesystem::path("/usr/lib/postgresql") / v / "bin";
        if (std::filesystem::exists(p / "initdb") && std::filesystem::exists(p / "pg_ctl")) return p;
    }
    return {};
}

constexpr const char* kSuperuser = "microscape";

}  // namespace

bool PgCluster::available() {
    return !findBin().empty();
}

std::string PgCluster::asOwner(const std::string& command) const {
    if (::geteuid() != 0) return command;
    return "setpriv --reuid=65534 --regid=65534 --clear-groups -- " + command;
}

void PgCluster::run(const std::string& command, const std::string& what) const {
    const std::filesystem::path log = dir_ / "commands.log";
    const std::string full = asOwner(command) + " >>" + log.string() + " 2>&1";
    if (std::system(full.c_str()) != 0) {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        std::ifstream server(dir_ / "server.log");
        std::stringstream sl;
        sl << server.rdbuf();
        throw std::runtime_error(what + " failed:\n" + ss.str() + sl.str());
    }
}

PgCluster::PgCluster() : bin_(findBin()) {
    if (bin_.empty()) throw std::runtime_error("PostgreSQL's programs are not installed (postgresql-15)");
    std::string tmpl = (std::filesystem::temp_directory_path() / "mspg-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    if (::geteuid() == 0 && ::chown(dir_.c_str(), 65534, 65534) != 0)
        throw std::runtime_error("chown of the cluster directory failed");
    run((bin_ / "initdb").string() + " -D " + (dir_ / "data").string() + " -U " + kSuperuser +
            " --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync",
        "initdb");
    start();
}

void PgCluster::start() {
    // No TCP listener; the socket lives in the directory. fsync off: a test
    // cluster need not survive a power cut.
    run((bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() + " -l " + (dir_ / "server.log").string() +
            " -w -t 60 -o \"-k " + dir_.string() + " -c listen_addresses= -c fsync=off -c synchronous_commit=off" +
            " -c full_page_writes=off -c max_connections=200\" start",
        "pg_ctl start");
    running_ = true;
}

void PgCluster::stop() {
    if (!running_) return;
    running_ = false;
    run((bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() + " -m fast -w stop", "pg_ctl stop");
}

PgCluster::~PgCluster() {
    try {
        const std::string stop =
            asOwner((bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() + " -m immediate -w stop") +
            " >/dev/null 2>&1";
        if (running_ && std::system(stop.c_str()) != 0) {
            // nothing more to do: the directory goes below
        }
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string PgCluster::url(const std::string& database) const {
    return "postgresql:///" + database + "?host=" + dir_.string() + "&user=" + kSuperuser;
}

std::string PgCluster::createDatabase() {
    const std::string name = "t" + std::to_string(++databases_);
    PGconn* c = PQconnectdb(url("postgres").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("connecting to the test cluster: " + msg);
    }
    PGresult* r = PQexec(c, ("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'").c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (!ok) throw std::runtime_error("CREATE DATABASE: " + msg);
    return url(name);
}

}  // namespace microscape::testing
