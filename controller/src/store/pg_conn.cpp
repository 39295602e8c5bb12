// sql::Conn over libpq, PostgreSQL's own client library (chosen over
// Poco::Data::PostgreSQL because the store needs what only libpq offers:
// LISTEN/NOTIFY between controller nodes, COPY for bulk ingest, SQLSTATE codes
// to tell a lost race from a refused write, and binary bytea parameters).
// Statements are prepared once per connection under generated names and kept
// by their text; parameters travel as text (bytea as binary), results as text.
#include <libpq-fe.h>

#include <charconv>
#include <map>

#include "store/backends.hpp"

namespace microscape::controller::sql {
namespace {

constexpr unsigned kByteaOid = 17;
constexpr unsigned kBoolOid = 16;

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* s) {
    std::string m = s ? s : "";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

// Throws the Error that fits the SQLSTATE of a failed result.
[[noreturn]] void raise(PGconn* conn, const PGresult* res, std::string_view what) {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string sqlstate = state ? state : "";
    std::string msg = std::string(what) + ": " + trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    if (msg.size() <= what.size() + 2) msg += trimmed(PQerrorMessage(conn));
    if (sqlstate.rfind("23", 0) == 0) throw ConstraintError(msg, sqlstate);
    if (sqlstate == "40001" || sqlstate == "40P01") throw RetryableError(msg, sqlstate);
    throw Error(msg, sqlstate);
}

std::string fromHex(std::string_view text) {  // bytea's text output: \x followed by hex pairs
    if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text);
    std::string out;
    out.reserve((text.size() - 2) / 2);
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return 0;
    };
    for (std::size_t i = 2; i + 1 < text.size(); i += 2)
        out += static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1]));
    return out;
}

class PgConn;

class PgStmt final : public Stmt {
  public:
    PgStmt(PgConn& conn, std::string sql, std::string name, std::size_t nparams)
        : conn_(conn), sql_(std::move(sql)), name_(std::move(name)), values_(nparams), binary_(nparams, 0) {}
    ~PgStmt() override;

    Stmt& bind(std::size_t index, const Value& v) override {
        if (index >= values_.size())
            throw Error("parameter " + std::to_string(index + 1) + " of a statement with " +
                        std::to_string(values_.size()));
        binary_[index] = 0;
        if (auto p = std::get_if<std::int64_t>(&v))
            values_[index] = std::to_string(*p);
        else if (auto s = std::get_if<std::string>(&v))
            values_[index] = *s;
        else if (auto b = std::get_if<Blob>(&v)) {
            values_[index] = b->bytes;
            binary_[index] = 1;
        } else
            values_[index].reset();
        return *this;
    }

    bool step() override;

    void reset() override {
        res_.reset();
        row_ = -1;
        for (auto& v : values_) v.reset();
    }
    // Before the statement runs, its columns come from the server's description of it.
    std::size_t columns() const override { return static_cast<std::size_t>(PQnfields(shape())); }
    std::string columnName(std::size_t col) const override { return PQfname(shape(), static_cast<int>(col)); }
    bool isNull(std::size_t col) const override { return PQgetisnull(res_.get(), row_, static_cast<int>(col)) != 0; }
    bool isText(std::size_t col) const override {
        if (isNull(col)) return false;
        switch (PQftype(res_.get(), static_cast<int>(col))) {
            case 25:    // text
            case 1043:  // varchar
            case 1042:  // char(n)
            case 19:    // name
            case 18:    // "char"
                return true;
            default:
                return false;
        }
    }
    std::int64_t i64(std::size_t col) const override {
        const char* v = PQgetvalue(res_.get(), row_, static_cast<int>(col));
        const int len = PQgetlength(res_.get(), row_, static_cast<int>(col));
        if (PQftype(res_.get(), static_cast<int>(col)) == kBoolOid) return v[0] == 't' ? 1 : 0;
        std::int64_t n = 0;
        std::from_chars(v, v + len, n);
        return n;
    }
    std::string str(std::size_t col) const override {
        const int c = static_cast<int>(col);
        std::string_view v(PQgetvalue(res_.get(), row_, c), static_cast<std::size_t>(PQgetlength(res_.get(), row_, c)));
        if (PQftype(res_.get(), c) == kByteaOid) return fromHex(v);
        if (PQftype(res_.get(), c) == kBoolOid) return v == "t" ? "1" : "0";
        return std::string(v);
    }

  private:
    PgConn& conn_;
    std::string sql_;
    std::string name_;
    std::vector<std::optional<std::string>> values_;
    std::vector<int> binary_;
    const PGresult* shape() const;

    ResultPtr res_;
    mutable ResultPtr described_;
    int row_ = -1;
};

class PgConn final : public Conn {
  public:
    explicit PgConn(PGconn* c) : conn_(c) {}
    ~PgConn() override { PQfinish(conn_); }

    Backend backend() const override { return Backend::Postgres; }

    std::unique_ptr<Stmt> prepare(std::string_view sql) override {
        std::string key(sql);
        if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
            auto [name, n] = it->second.back();
            it->second.pop_back();
            return std::make_unique<PgStmt>(*this, std::move(key), std::move(name), n);
        }
        std::size_t n = 0;
        const std::string text = toDollarPlaceholders(key, &n);
        std::string name = "s" + std::to_string(++prepared_);
        ResultPtr r(PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(n), nullptr));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(conn_, r.get(), "preparing a statement");
        return std::make_unique<PgStmt>(*this, std::move(key), std::move(name), n);
    }

    ResultPtr describe(const std::string& name) {
        ResultPtr r(PQdescribePrepared(conn_, name.c_str()));
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(conn_, r.get(), "describing a statement");
        return r;
    }

    void giveBack(std::string sql, std::string name, std::size_t n) {
        idle_[std::move(sql)].emplace_back(std::move(name), n);
    }

    ResultPtr execPrepared(const std::string& name, const std::vector<std::optional<std::string>>& values,
                           const std::vector<int>& binary) {
        std::vector<const char*> ptrs(values.size());
        std::vector<int> lengths(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) {
            ptrs[i] = values[i] ? values[i]->data() : nullptr;
            lengths[i] = values[i] ? static_cast<int>(values[i]->size()) : 0;
        }
        ResultPtr r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(values.size()), ptrs.data(), lengths.data(),
                                   binary.data(), 0));
        const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) raise(conn_, r.get(), "running a statement");
        if (status == PGRES_COMMAND_OK) {
            const char* n = PQcmdTuples(r.get());
            changes_ = n && *n ? std::stoll(n) : 0;
        }
        return r;
    }

    void execScript(std::string_view sql) override {
        const std::string text(sql);
        ResultPtr r(PQexec(conn_, text.c_str()));
        const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) raise(conn_, r.get(), "running SQL");
    }

    std::int64_t changes() const override { return changes_; }
    bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

    void begin() override { execScript("BEGIN"); }
    void commit() override { execScript("COMMIT"); }
    void rollback() noexcept override {
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
    }

  private:
    PGconn* conn_;
    std::int64_t prepared_ = 0;
    std::int64_t changes_ = 0;
    std::map<std::string, std::vector<std::pair<std::string, std::size_t>>, std::less<>> idle_;
};

PgStmt::~PgStmt() {
    conn_.giveBack(std::move(sql_), std::move(name_), values_.size());
}

const PGresult* PgStmt::shape() const {
    if (res_) return res_.get();
    if (!described_) described_ = conn_.describe(name_);
    return described_.get();
}

bool PgStmt::step() {
    if (!res_) {
        res_ = conn_.execPrepared(name_, values_, binary_);
        row_ = -1;
    }
    ++row_;
    return row_ < PQntuples(res_.get());
}

}  // namespace

std::unique_ptr<Conn> openPostgres(const std::string& conninfo, const std::string& password) {
    std::vector<const char*> keys{"dbname", "application_name", "connect_timeout"};
    std::vector<const char*> values{conninfo.c_str(), "microscape-controller", "10"};
    if (!password.empty()) {
        keys.push_back("password");
        values.push_back(password.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* c = PQconnectdbParams(keys.data(), values.data(), 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        std::string msg = c ? trimmed(PQerrorMessage(c)) : "out of memory";
        PQfinish(c);
        throw Error("connecting to PostgreSQL: " + msg);
    }
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        std::string msg = trimmed(PQerrorMessage(c));
        PQfinish(c);
        throw Error("setting the client encoding: " + msg);
    }
    // Notices and a server's parting message are not for stderr; errors reach
    // the caller as exceptions with the server's text.
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    auto conn = std::make_unique<PgConn>(c);
    // Times are integers (milliseconds, UTC) in every table; the session zone
    // only matters to the few date functions the reports use.
    conn->execScript("SET TIME ZONE 'UTC'");
    // NOTICEs (e.g. "already exists, skipping") would go to stderr.
    conn->execScript("SET client_min_messages = warning");
    return conn;
}

}  // namespace microscape::controller::sql
