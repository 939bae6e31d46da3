// PostgresStorage (postgres.h): every write is one short transaction with text parameters
// (PQexecParams); a transaction that loses a deadlock or a serialization race is retried.
#include "hpo/storage/postgres.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <random>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace ember::hpo {

namespace {

constexpr const char* kPgSchema = R"sql(
CREATE TABLE IF NOT EXISTS ember_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies(id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, direction TEXT NOT NULL,
  next_number BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS trials(id BIGSERIAL PRIMARY KEY, study_id BIGINT NOT NULL REFERENCES studies(id),
  number BIGINT NOT NULL, state TEXT NOT NULL, value DOUBLE PRECISION, fixed TEXT NOT NULL DEFAULT '{}',
  message TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '', heartbeat DOUBLE PRECISION NOT NULL DEFAULT 0,
  time_start DOUBLE PRECISION NOT NULL DEFAULT 0, time_end DOUBLE PRECISION NOT NULL DEFAULT 0,
  UNIQUE(study_id, number));
CREATE INDEX IF NOT EXISTS trials_by_state ON trials(study_id, state, number);
CREATE TABLE IF NOT EXISTS params(trial_id BIGINT NOT NULL REFERENCES trials(id), name TEXT NOT NULL,
  dist TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY(trial_id, name));
CREATE TABLE IF NOT EXISTS intermediate(trial_id BIGINT NOT NULL REFERENCES trials(id), step BIGINT NOT NULL,
  value DOUBLE PRECISION, PRIMARY KEY(trial_id, step));
CREATE TABLE IF NOT EXISTS claims(study_id BIGINT NOT NULL, key TEXT NOT NULL, trial_id BIGINT NOT NULL,
  PRIMARY KEY(study_id, key));
CREATE TABLE IF NOT EXISTS user_attrs(trial_id BIGINT NOT NULL REFERENCES trials(id), key TEXT NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY(trial_id, key));
INSERT INTO ember_meta(key, value) VALUES ('schema', 'ember-hpo'), ('version', '1') ON CONFLICT DO NOTHING;
)sql";
constexpr int64_t kPgSchemaLock = 0x656d626572;  // advisory lock id ("ember") held while creating the schema

using Param = std::optional<std::string>;

Param num(int64_t v) { return std::to_string(v); }
Param num(double v) { return std::isfinite(v) ? Param(fmt::format("{:.17g}", v)) : std::nullopt; }  // NULL

std::string this_host() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// Thrown for deadlocks and serialization failures: the transaction is safe to run again.
struct RetryableError : Error {
  using Error::Error;
};

// The same JSON as SqliteStorage's `fixed` column: {"name": {"f"|"i"|"s": value}}.
std::string pg_fixed_json(const std::map<std::string, ParamValue>& fixed) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fixed) {
    if (const auto* d = std::get_if<double>(&v)) j[k] = {{"f", *d}};
    else if (const auto* i = std::get_if<int64_t>(&v)) j[k] = {{"i", *i}};
    else j[k] = {{"s", std::get<std::string>(v)}};
  }
  return j.dump();
}

std::map<std::string, ParamValue> pg_fixed_params(const std::string& text) {
  std::map<std::string, ParamValue> out;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.contains("f")) out[k] = v["f"].get<double>();
    else if (v.contains("i")) out[k] = v["i"].get<int64_t>();
    else if (v.contains("s")) out[k] = v["s"].get<std::string>();
  }
  return out;
}

// Splits ember_heartbeat / ember_grace off the URI's query string; the rest goes to libpq.
std::string take_options(const std::string& url, PostgresOptions& o) {
  const auto q = url.find('?');
  if (q == std::string::npos) return url;
  std::string kept;
  size_t start = q + 1;
  while (start <= url.size()) {
    const size_t end = std::min(url.find('&', start), url.size());
    const std::string kv = url.substr(start, end - start);
    const auto eq = kv.find('=');
    const std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "ember_heartbeat" || key == "ember_grace") {
      char* stop = nullptr;
      const double v = std::strtod(value.c_str(), &stop);
      EMBER_CHECK(!value.empty() && *stop == '\0' && v > 0, "postgres storage: {} must be a positive number of seconds, got '{}'",
                  key, value);
      (key == "ember_heartbeat" ? o.heartbeat_s : o.grace_s) = v;
    } else if (!kv.empty()) {
      kept += (kept.empty() ? "" : "&") + kv;
    }
    start = end + 1;
  }
  return url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
}

// postgresql://user:secret@host/db -> postgresql://user:***@host/db (for messages).
std::string without_password(const std::string& url) {
  const auto scheme = url.find("://"), at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  return colon != std::string::npos && colon < at ? url.substr(0, colon) + ":***" + url.substr(at) : url;
}

}  // namespace

// A query's rows (text format), freed on destruction.
class PostgresStorage::Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  ~Result() { PQclear(r_); }
  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const { return PQgetvalue(r_, row, col); }
  int64_t i64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
  double f64(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
  int64_t affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }

 private:
  PGresult* r_;
};

PostgresStorage::Result PostgresStorage::query(const char* sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = params.empty() ? PQexec(conn_, sql)
                               : PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                                              nullptr, nullptr, 0);
  Result res(r);
  const auto status = PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return res;
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state ? state : "";
  const std::string text = fmt::format("postgres storage '{}': {} (in: {:.60})", where_, msg, sql);
  if (code == "40P01" || code == "40001") throw RetryableError(text);
  throw Error(text);
}

template <class Fn>
auto PostgresStorage::transaction(Fn&& fn) {
  for (int attempt = 1;; ++attempt) {
    query("BEGIN");
    try {
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        query("COMMIT");
        return;
      } else {
        auto out = fn();
        query("COMMIT");
        return out;
      }
    } catch (const RetryableError&) {
      PQclear(PQexec(conn_, "ROLLBACK"));
      if (attempt == 5) throw;
    } catch (...) {
      PQclear(PQexec(conn_, "ROLLBACK"));
      throw;
    }
  }
}

PostgresStorage::PostgresStorage(const std::string& url, PostgresOptions options) : options_(options) {
  const std::string conninfo = take_options(url, options_);
  where_ = without_password(conninfo);
  std::random_device rd;
  owner_ = fmt::format("{}:{}:{:08x}", this_host(), static_cast<long>(getpid()), rd());
  conn_ = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    EMBER_CHECK(false, "postgres storage: cannot connect to '{}': {}", where_, msg);
  }
  try {
    PQclear(PQexec(conn_, "SET client_min_messages = warning"));  // no NOTICEs for IF NOT EXISTS
    transaction([&] {
      query("SELECT pg_advisory_xact_lock($1)", {num(kPgSchemaLock)});
      query(kPgSchema);
    });
    Result v = query("SELECT value FROM ember_meta WHERE key = 'version'");
    EMBER_CHECK(v.rows() == 1, "postgres storage '{}': ember_meta has no schema version", where_);
    EMBER_CHECK(v.text(0, 0) == "1", "postgres storage '{}': schema version {}, this build reads version 1", where_,
                v.text(0, 0));
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

PostgresStorage::~PostgresStorage() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (conn_) PQfinish(conn_);
}

void PostgresStorage::heartbeat_loop() {
  std::unique_lock stop_lock(stop_mu_);
  const auto period = std::chrono::duration<double>(options_.heartbeat_s);
  while (!stop_cv_.wait_for(stop_lock, period, [&] { return stop_; })) {
    std::lock_guard lock(mu_);
    try {
      query("UPDATE trials SET heartbeat = $1 WHERE owner = $2 AND state = 'running'", {num(now_s()), owner_});
    } catch (const Error&) {  // a lost connection shows up on the next real call; keep beating
    }
  }
}

int64_t PostgresStorage::create_study(const std::string& name, Direction direction) {
  std::lock_guard lock(mu_);
  Result r = query("INSERT INTO studies(name, direction) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
                   {name, to_string(direction)});
  EMBER_CHECK(r.rows() == 1, "postgres storage '{}': study '{}' already exists", where_, name);
  return r.i64(0, 0);
}

void PostgresStorage::delete_study(const std::string& name) {
  std::lock_guard lock(mu_);
  // One statement (data-modifying CTEs share a snapshot; the foreign keys are checked at its end).
  Result r = query(
      "WITH s AS (SELECT id FROM studies WHERE name = $1), t AS (SELECT id FROM trials WHERE study_id IN (SELECT id "
      "FROM s)), dp AS (DELETE FROM params WHERE trial_id IN (SELECT id FROM t)), di AS (DELETE FROM intermediate "
      "WHERE trial_id IN (SELECT id FROM t)), du AS (DELETE FROM user_attrs WHERE trial_id IN (SELECT id FROM t)), dc AS (DELETE FROM claims WHERE study_id IN (SELECT id FROM s)), dt AS "
      "(DELETE FROM trials WHERE study_id IN (SELECT id FROM s)) DELETE FROM studies WHERE id IN (SELECT id FROM s) "
      "RETURNING id",
      {name});
  EMBER_CHECK(r.rows() == 1, "postgres storage '{}': no study '{}' to delete", where_, name);
}

std::vector<StudyInfo> PostgresStorage::list_studies() {
  std::lock_guard lock(mu_);
  Result r = query(
      "SELECT s.id, s.name, s.direction, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id) FROM studies s "
      "ORDER BY s.id");
  std::vector<StudyInfo> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.i64(i, 0), r.text(i, 1), direction_from_string(r.text(i, 2)), r.i64(i, 3)});
  return out;
}

std::optional<StudyInfo> PostgresStorage::find_study(const std::string& name) {
  for (auto& s : list_studies())
    if (s.name == name) return s;
  return std::nullopt;
}

FrozenTrial PostgresStorage::create_trial(int64_t study_id, TrialState state,
                                          const std::map<std::string, ParamValue>& fixed_params) {
  EMBER_CHECK(state == TrialState::kRunning || state == TrialState::kWaiting,
              "postgres storage: a new trial must be running or waiting, not {}", to_string(state));
  std::lock_guard lock(mu_);
  FrozenTrial t;
  t.state = state;
  t.fixed_params = fixed_params;
  t.time_start = state == TrialState::kRunning ? now_s() : 0.0;
  transaction([&] {
    // The study row's lock serializes numbering across every worker.
    Result n = query("UPDATE studies SET next_number = next_number + 1 WHERE id = $1 RETURNING next_number - 1",
                     {num(study_id)});
    EMBER_CHECK(n.rows() == 1, "postgres storage '{}': no study with id {}", where_, study_id);
    t.number = n.i64(0, 0);
    const bool running = state == TrialState::kRunning;
    Result ins = query(
        "INSERT INTO trials(study_id, number, state, fixed, owner, heartbeat, time_start) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        {num(study_id), num(t.number), to_string(state), pg_fixed_json(fixed_params), running ? owner_ : "",
         num(t.time_start)});
    t.id = ins.i64(0, 0);
  });
  return t;
}

// The study row is locked first (FOR UPDATE), so the count and the insert of every worker on every
// host are serialized: a study shared by many processes runs exactly `max_trials` between them.
std::optional<FrozenTrial> PostgresStorage::create_trial_within(int64_t study_id, int64_t max_trials) {
  std::lock_guard lock(mu_);
  std::optional<FrozenTrial> out;
  transaction([&] {
    out.reset();
    Result n = query("SELECT next_number FROM studies WHERE id = $1 FOR UPDATE", {num(study_id)});
    EMBER_CHECK(n.rows() == 1, "postgres storage '{}': no study with id {}", where_, study_id);
    Result live = query("SELECT COUNT(*) FROM trials WHERE study_id = $1 AND state != 'failed'", {num(study_id)});
    if (live.i64(0, 0) >= max_trials) return;
    FrozenTrial t;
    t.state = TrialState::kRunning;
    t.time_start = now_s();
    Result next = query("UPDATE studies SET next_number = next_number + 1 WHERE id = $1 RETURNING next_number - 1",
                        {num(study_id)});
    t.number = next.i64(0, 0);
    Result ins = query(
        "INSERT INTO trials(study_id, number, state, fixed, owner, heartbeat, time_start) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        {num(study_id), num(t.number), to_string(t.state), pg_fixed_json({}), owner_, num(t.time_start)});
    t.id = ins.i64(0, 0);
    out = t;
  });
  return out;
}

std::optional<FrozenTrial> PostgresStorage::claim_waiting_trial(int64_t study_id) {
  std::lock_guard lock(mu_);
  const double now = now_s();
  Result r = query(
      "UPDATE trials SET state = 'running', owner = $2, heartbeat = $3, time_start = $3 WHERE id = ("
      "SELECT id FROM trials WHERE study_id = $1 AND state = 'waiting' ORDER BY number LIMIT 1 "
      "FOR UPDATE SKIP LOCKED) RETURNING id",
      {num(study_id), owner_, num(now)});
  if (r.rows() == 0) return std::nullopt;
  return get_trial(r.i64(0, 0));
}

void PostgresStorage::set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) {
  std::lock_guard lock(mu_);
  query("INSERT INTO params(trial_id, name, dist, value) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (trial_id, name) DO UPDATE SET dist = EXCLUDED.dist, value = EXCLUDED.value",
        {num(trial_id), name, dist.to_json(), num(value)});
}

void PostgresStorage::set_intermediate(int64_t trial_id, int64_t step, double value) {
  std::lock_guard lock(mu_);
  query("INSERT INTO intermediate(trial_id, step, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value",
        {num(trial_id), num(step), num(value)});
}

void PostgresStorage::set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) {
  std::lock_guard lock(mu_);
  // Only a running trial takes attributes: the insert selects the trial row with that condition.
  Result r = query("INSERT INTO user_attrs(trial_id, key, value) SELECT id, $2, $3 FROM trials WHERE id = $1 AND "
                   "state = 'running' ON CONFLICT (trial_id, key) DO UPDATE SET value = EXCLUDED.value RETURNING trial_id",
                   {num(trial_id), key, json});
  if (r.rows() == 1) return;
  Result why = query("SELECT number, state FROM trials WHERE id = $1", {num(trial_id)});
  EMBER_CHECK(why.rows() == 1, "postgres storage '{}': no trial with id {}", where_, trial_id);
  EMBER_CHECK(false, "postgres storage '{}': trial {} is {}, cannot set user attribute '{}'", where_, why.i64(0, 0),
              why.text(0, 1), key);
}

void PostgresStorage::finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                                   const std::string& message) {
  std::lock_guard lock(mu_);
  Result r = query(
      "UPDATE trials SET state = $2, value = $3, message = $4, time_end = $5 WHERE id = $1 AND state = 'running' "
      "RETURNING number",
      {num(trial_id), to_string(state), value ? num(*value) : std::nullopt, message, num(now_s())});
  if (r.rows() == 1) return;
  Result why = query("SELECT number, state FROM trials WHERE id = $1", {num(trial_id)});
  EMBER_CHECK(why.rows() == 1, "postgres storage '{}': no trial with id {}", where_, trial_id);
  EMBER_CHECK(false, "postgres storage '{}': trial {} is already {}", where_, why.i64(0, 0), why.text(0, 1));
}

std::vector<FrozenTrial> PostgresStorage::load_trials(const char* where_sql, int64_t key) {
  std::vector<FrozenTrial> out;
  std::unordered_map<int64_t, size_t> pos;
  // One snapshot for the four queries.
  query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const std::string cols = "SELECT id, number, state, value, fixed, message, time_start, time_end FROM trials t ";
    Result q = query((cols + where_sql + " ORDER BY number").c_str(), {num(key)});
    for (int i = 0; i < q.rows(); ++i) {
      FrozenTrial t;
      t.id = q.i64(i, 0);
      t.number = q.i64(i, 1);
      t.state = trial_state_from_string(q.text(i, 2));
      if (!q.is_null(i, 3)) t.value = q.f64(i, 3);
      t.fixed_params = pg_fixed_params(q.text(i, 4));
      t.message = q.text(i, 5);
      t.time_start = q.f64(i, 6);
      t.time_end = q.f64(i, 7);
      pos[t.id] = out.size();
      out.push_back(std::move(t));
    }
    const std::string sub = std::string("(SELECT id FROM trials t ") + where_sql + ")";
    Result p = query(("SELECT trial_id, name, dist, value FROM params WHERE trial_id IN " + sub).c_str(), {num(key)});
    std::unordered_map<std::string, Distribution> dist_cache;
    for (int i = 0; i < p.rows(); ++i) {
      const auto it = pos.find(p.i64(i, 0));
      if (it == pos.end()) continue;
      const std::string dj = p.text(i, 2);
      auto dit = dist_cache.find(dj);
      if (dit == dist_cache.end()) dit = dist_cache.emplace(dj, Distribution::from_json(dj)).first;
      out[it->second].params[p.text(i, 1)] = p.f64(i, 3);
      out[it->second].distributions[p.text(i, 1)] = dit->second;
    }
    Result iv = query(("SELECT trial_id, step, value FROM intermediate WHERE trial_id IN " + sub).c_str(), {num(key)});
    for (int i = 0; i < iv.rows(); ++i) {
      const auto it = pos.find(iv.i64(i, 0));
      if (it != pos.end()) out[it->second].intermediate[iv.i64(i, 1)] = iv.is_null(i, 2) ? std::nan("") : iv.f64(i, 2);
    }
    Result ua = query(("SELECT trial_id, key, value FROM user_attrs WHERE trial_id IN " + sub).c_str(), {num(key)});
    for (int i = 0; i < ua.rows(); ++i) {
      const auto it = pos.find(ua.i64(i, 0));
      if (it != pos.end()) out[it->second].user_attrs[ua.text(i, 1)] = ua.text(i, 2);
    }
    query("COMMIT");
  } catch (...) {
    PQclear(PQexec(conn_, "ROLLBACK"));
    throw;
  }
  return out;
}

FrozenTrial PostgresStorage::get_trial(int64_t trial_id) {
  std::lock_guard lock(mu_);
  auto v = load_trials("WHERE t.id = $1", trial_id);
  EMBER_CHECK(!v.empty(), "postgres storage '{}': no trial with id {}", where_, trial_id);
  return std::move(v.front());
}

std::vector<TrialPtr> PostgresStorage::get_trials(int64_t study_id) {
  std::lock_guard lock(mu_);
  auto v = load_trials("WHERE t.study_id = $1", study_id);
  std::vector<TrialPtr> out;
  out.reserve(v.size());
  for (auto& t : v) out.push_back(std::make_shared<const FrozenTrial>(std::move(t)));
  return out;
}

bool PostgresStorage::claim_key(int64_t study_id, const std::string& key, int64_t trial_id) {
  std::lock_guard lock(mu_);
  Result r = query("INSERT INTO claims(study_id, key, trial_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                   {num(study_id), key, num(trial_id)});
  return r.affected() == 1;
}

int PostgresStorage::fail_stale_trials(int64_t study_id) {
  std::lock_guard lock(mu_);
  const std::string host = this_host();
  const double now = now_s();
  return transaction([&] {
    // Rows another worker is finishing right now are skipped (it is alive).
    Result r = query("SELECT id, owner, heartbeat FROM trials WHERE study_id = $1 AND state = 'running' "
                     "FOR UPDATE SKIP LOCKED",
                     {num(study_id)});
    int marked = 0;
    for (int i = 0; i < r.rows(); ++i) {
      const std::string owner = r.text(i, 1);
      if (owner == owner_) continue;
      const double silent = now - r.f64(i, 2);
      std::string why;
      if (silent > options_.grace_s) why = fmt::format("worker {} sent no heartbeat for {:.0f} s", owner, silent);
      const auto first = owner.find(':'), second = owner.find(':', first + 1);
      if (why.empty() && first != std::string::npos && owner.substr(0, first) == host) {
        const long pid = std::strtol(owner.c_str() + first + 1, nullptr, 10);
        if (pid > 0 && second != std::string::npos && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
          why = fmt::format("worker {} died", owner);
      }
      if (why.empty()) continue;
      query("UPDATE trials SET state = 'failed', message = $2, time_end = $3 WHERE id = $1",
            {num(r.i64(i, 0)), why, num(now)});
      query("DELETE FROM claims WHERE trial_id = $1", {num(r.i64(i, 0))});
      ++marked;
    }
    return marked;
  });
}

}  // namespace ember::hpo
