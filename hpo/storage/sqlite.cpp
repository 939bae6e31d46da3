// SqliteStorage: the study database. Each write is one short BEGIN IMMEDIATE transaction;
// a busy timeout lets several processes take turns.
#include "hpo/storage/sqlite.h"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace ember::hpo {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ember_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, direction TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials(id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL, state TEXT NOT NULL, value REAL, fixed TEXT NOT NULL DEFAULT '{}',
  message TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '', time_start REAL NOT NULL DEFAULT 0,
  time_end REAL NOT NULL DEFAULT 0, UNIQUE(study_id, number));
CREATE TABLE IF NOT EXISTS params(trial_id INTEGER NOT NULL REFERENCES trials(id), name TEXT NOT NULL,
  dist TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY(trial_id, name));
CREATE TABLE IF NOT EXISTS intermediate(trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL,
  value REAL, PRIMARY KEY(trial_id, step));
CREATE TABLE IF NOT EXISTS claims(study_id INTEGER NOT NULL, key TEXT NOT NULL, trial_id INTEGER NOT NULL,
  PRIMARY KEY(study_id, key));
CREATE TABLE IF NOT EXISTS user_attrs(trial_id INTEGER NOT NULL REFERENCES trials(id), key TEXT NOT NULL,
  value TEXT NOT NULL, PRIMARY KEY(trial_id, key));
INSERT OR IGNORE INTO ember_meta(key, value) VALUES ('schema', 'ember-hpo'), ('version', '1');
)sql";

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// "host:pid" of this process; a running trial remembers its owner for stale detection.
std::string owner_tag() { return fmt::format("{}:{}", host_name(), static_cast<long>(getpid())); }

// Prepared statement with RAII finalize and typed binds/columns.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr);
    EMBER_CHECK(rc == SQLITE_OK, "sqlite storage '{}': {} (preparing: {})", path, sqlite3_errmsg(db), sql);
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(st_, i, v)); }
  Stmt& bind(int i, double v) {
    return std::isfinite(v) ? check(sqlite3_bind_double(st_, i, v)) : check(sqlite3_bind_null(st_, i));
  }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(st_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind_null(int i) { return check(sqlite3_bind_null(st_, i)); }
  // Returns true while a row is available.
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    EMBER_CHECK(rc == SQLITE_DONE, "sqlite storage '{}': {}", path_, sqlite3_errmsg(db_));
    return false;
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double f64(int c) const { return sqlite3_column_double(st_, c); }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  }

 private:
  Stmt& check(int rc) {
    EMBER_CHECK(rc == SQLITE_OK, "sqlite storage '{}': bind failed: {}", path_, sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* st_ = nullptr;
};

std::string fixed_to_json(const std::map<std::string, ParamValue>& fixed) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fixed) {
    if (const auto* d = std::get_if<double>(&v)) j[k] = {{"f", *d}};
    else if (const auto* i = std::get_if<int64_t>(&v)) j[k] = {{"i", *i}};
    else j[k] = {{"s", std::get<std::string>(v)}};
  }
  return j.dump();
}

// Enqueued parameters {"name": {"f": 1.5} | {"i": 3} | {"s": "adam"}}; anything else in a
// (tampered) database is an error naming the file, the trial and the field.
std::map<std::string, ParamValue> fixed_from_json(const std::string& text, const std::string& path, int64_t number) {
  std::map<std::string, ParamValue> out;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (text.empty()) return out;
  EMBER_CHECK(j.is_object(), "sqlite storage '{}': trial {}: fixed parameters are not a JSON object", path, number);
  for (const auto& [k, v] : j.items()) {
    if (v.is_object() && v.contains("f") && v["f"].is_number()) out[k] = v["f"].get<double>();
    else if (v.is_object() && v.contains("i") && v["i"].is_number_integer()) out[k] = v["i"].get<int64_t>();
    else if (v.is_object() && v.contains("s") && v["s"].is_string()) out[k] = v["s"].get<std::string>();
    else EMBER_CHECK(false, "sqlite storage '{}': trial {}: fixed parameter '{}' is malformed", path, number, k);
  }
  return out;
}

// A stored distribution, re-validated through the same constructors suggest_* uses, so a tampered
// row ("low": 1e308, a missing "high", a string where a number belongs) is reported with the file,
// the trial and the parameter instead of a library message or a silently wrong best parameter.
Distribution distribution_from_row(const std::string& text, const std::string& path, int64_t number,
                                   const std::string& name) {
  const std::string where = fmt::format("sqlite storage '{}': trial {} parameter '{}'", path, number, name);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  EMBER_CHECK(j.is_object() && j.contains("kind") && j["kind"].is_string(), "{}: stored distribution is malformed",
              where);
  const std::string kind = j["kind"].get<std::string>();
  auto number_field = [&](const char* f) {
    EMBER_CHECK(j.contains(f) && j[f].is_number(), "{}: stored {} distribution has no numeric '{}'", where, kind, f);
    return j[f].get<double>();
  };
  try {
    if (kind == "categorical") {
      EMBER_CHECK(j.contains("choices") && j["choices"].is_array(), "{}: stored choices are not an array", where);
      std::vector<std::string> choices;
      for (const auto& c : j["choices"]) {
        EMBER_CHECK(c.is_string(), "{}: a stored choice is not a string", where);
        choices.push_back(c.get<std::string>());
      }
      return Distribution::make_categorical(name, choices);
    }
    EMBER_CHECK(kind == "float" || kind == "int", "{}: stored distribution has unknown kind '{}'", where, kind);
    EMBER_CHECK(j.contains("log") && j["log"].is_boolean(), "{}: stored distribution has no boolean 'log'", where);
    const double low = number_field("low"), high = number_field("high"), step = number_field("step");
    const bool log = j["log"].get<bool>();
    if (kind == "float") return Distribution::make_float(name, low, high, {.log = log, .step = step});
    EMBER_CHECK(low == std::floor(low) && high == std::floor(high) && step == std::floor(step) &&
                    std::abs(low) < 9e15 && std::abs(high) < 9e15 && std::abs(step) < 9e15,
                "{}: stored int distribution has non-integer or out-of-range bounds or step", where);
    return Distribution::make_int(name, int64_t(low), int64_t(high), {.log = log, .step = int64_t(step)});
  } catch (const Error& e) {
    if (std::string(e.what()).rfind("sqlite storage", 0) == 0) throw;
    EMBER_CHECK(false, "{}: stored distribution is invalid ({})", where, e.what());
  }
  __builtin_unreachable();
}

}  // namespace

SqliteStorage::SqliteStorage(const std::string& path) : path_(path) {
  // Check the header before SQLite sees the file, so a foreign file gets a clear message.
  {
    std::ifstream f(path, std::ios::binary);
    if (f) {
      char header[16] = {};
      f.read(header, 16);
      const auto n = f.gcount();
      EMBER_CHECK(n == 0 || (n == 16 && std::memcmp(header, "SQLite format 3\0", 16) == 0),
                  "sqlite storage: '{}' is not an SQLite database (bad file header)", path);
    }
  }
  const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    EMBER_CHECK(false, "sqlite storage: cannot open '{}': {}", path, msg);
  }
  sqlite3_busy_timeout(db_, 30000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    {
      Stmt check(db_, path_, "PRAGMA quick_check");
      EMBER_CHECK(check.step() && check.text(0) == "ok", "sqlite storage: '{}' is corrupted (quick_check: {})", path,
                  check.text(0));
    }
    std::vector<std::string> tables;
    {
      Stmt q(db_, path_, "SELECT name FROM sqlite_master WHERE type = 'table'");
      while (q.step()) tables.push_back(q.text(0));
    }
    const bool ours = std::find(tables.begin(), tables.end(), "ember_meta") != tables.end();
    EMBER_CHECK(tables.empty() || ours,
                "sqlite storage: '{}' is an SQLite database of another application (tables: {}), not an ember study",
                path, fmt::join(tables, ", "));
    if (!ours) {
      exec("BEGIN IMMEDIATE");
      try {
        exec(kSchema);
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
    Stmt meta(db_, path_, "SELECT value FROM ember_meta WHERE key = 'version'");
    EMBER_CHECK(meta.step(), "sqlite storage: '{}' has no schema version in ember_meta", path);
    EMBER_CHECK(meta.text(0) == "1", "sqlite storage: '{}' has schema version {}, this build reads version 1", path,
                meta.text(0));
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStorage::~SqliteStorage() {
  if (db_) sqlite3_close(db_);
}

void SqliteStorage::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
    EMBER_CHECK(false, "sqlite storage: '{}' is corrupted or not a database ({})", path_, msg);
  EMBER_CHECK(rc == SQLITE_OK, "sqlite storage '{}': {} (in: {:.60})", path_, msg, sql);
}

namespace {
// BEGIN IMMEDIATE ... COMMIT, rolled back if the scope exits by an exception.
class Txn {
 public:
  Txn(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    const int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    EMBER_CHECK(rc == SQLITE_OK, "sqlite storage '{}': cannot begin a transaction: {}", path, sqlite3_errmsg(db_));
  }
  void commit() {
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    EMBER_CHECK(rc == SQLITE_OK, "sqlite storage '{}': commit failed: {}", path_, sqlite3_errmsg(db_));
    done_ = true;
  }
  ~Txn() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};
}  // namespace

int64_t SqliteStorage::create_study(const std::string& name, Direction direction) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  {
    Stmt q(db_, path_, "SELECT id FROM studies WHERE name = ?");
    q.bind(1, name);
    EMBER_CHECK(!q.step(), "sqlite storage '{}': study '{}' already exists", path_, name);
  }
  Stmt ins(db_, path_, "INSERT INTO studies(name, direction) VALUES (?, ?)");
  ins.bind(1, name).bind(2, to_string(direction));
  ins.step();
  const int64_t id = sqlite3_last_insert_rowid(db_);
  txn.commit();
  return id;
}

void SqliteStorage::delete_study(const std::string& name) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  int64_t id = -1;
  {
    Stmt q(db_, path_, "SELECT id FROM studies WHERE name = ?");
    q.bind(1, name);
    EMBER_CHECK(q.step(), "sqlite storage '{}': no study '{}' to delete", path_, name);
    id = q.i64(0);
  }
  for (const char* sql : {"DELETE FROM params WHERE trial_id IN (SELECT id FROM trials WHERE study_id = ?)",
                          "DELETE FROM intermediate WHERE trial_id IN (SELECT id FROM trials WHERE study_id = ?)",
                          "DELETE FROM user_attrs WHERE trial_id IN (SELECT id FROM trials WHERE study_id = ?)",
                          "DELETE FROM claims WHERE study_id = ?", "DELETE FROM trials WHERE study_id = ?",
                          "DELETE FROM studies WHERE id = ?"}) {
    Stmt d(db_, path_, sql);
    d.bind(1, id);
    d.step();
  }
  txn.commit();
}

std::vector<StudyInfo> SqliteStorage::list_studies() {
  std::lock_guard lock(mu_);
  std::vector<StudyInfo> out;
  Stmt q(db_, path_,
         "SELECT s.id, s.name, s.direction, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.id) "
         "FROM studies s ORDER BY s.id");
  while (q.step()) out.push_back({q.i64(0), q.text(1), direction_from_string(q.text(2)), q.i64(3)});
  return out;
}

std::optional<StudyInfo> SqliteStorage::find_study(const std::string& name) {
  for (auto& s : list_studies())
    if (s.name == name) return s;
  return std::nullopt;
}

FrozenTrial SqliteStorage::create_trial(int64_t study_id, TrialState state,
                                        const std::map<std::string, ParamValue>& fixed_params) {
  EMBER_CHECK(state == TrialState::kRunning || state == TrialState::kWaiting,
              "sqlite storage: a new trial must be running or waiting, not {}", to_string(state));
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  FrozenTrial t = insert_trial_locked(study_id, state, fixed_params);
  txn.commit();
  return t;
}

// The count and the insert share one BEGIN IMMEDIATE transaction: no other process can insert
// between them, so the budget holds across processes.
std::optional<FrozenTrial> SqliteStorage::create_trial_within(int64_t study_id, int64_t max_trials) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  {
    Stmt q(db_, path_, "SELECT COUNT(*) FROM trials WHERE study_id = ? AND state != 'failed'");
    q.bind(1, study_id);
    q.step();
    if (q.i64(0) >= max_trials) return std::nullopt;
  }
  FrozenTrial t = insert_trial_locked(study_id, TrialState::kRunning, {});
  txn.commit();
  return t;
}

FrozenTrial SqliteStorage::insert_trial_locked(int64_t study_id, TrialState state,
                                               const std::map<std::string, ParamValue>& fixed_params) {
  int64_t number = 0;
  {
    Stmt q(db_, path_, "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?");
    q.bind(1, study_id);
    q.step();
    number = q.i64(0);
  }
  FrozenTrial t;
  t.number = number;
  t.state = state;
  t.fixed_params = fixed_params;
  t.time_start = state == TrialState::kRunning ? now_s() : 0.0;
  Stmt ins(db_, path_,
           "INSERT INTO trials(study_id, number, state, fixed, owner, time_start) VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, study_id).bind(2, number).bind(3, to_string(state)).bind(4, fixed_to_json(fixed_params));
  ins.bind(5, state == TrialState::kRunning ? owner_tag() : std::string()).bind(6, t.time_start);
  ins.step();
  t.id = sqlite3_last_insert_rowid(db_);
  return t;
}

std::optional<FrozenTrial> SqliteStorage::claim_waiting_trial(int64_t study_id) {
  std::lock_guard lock(mu_);
  int64_t id = -1;
  {
    Txn txn(db_, path_);
    Stmt q(db_, path_, "SELECT id FROM trials WHERE study_id = ? AND state = 'waiting' ORDER BY number LIMIT 1");
    q.bind(1, study_id);
    if (!q.step()) return std::nullopt;
    id = q.i64(0);
    Stmt up(db_, path_, "UPDATE trials SET state = 'running', owner = ?, time_start = ? WHERE id = ?");
    up.bind(1, owner_tag()).bind(2, now_s()).bind(3, id);
    up.step();
    txn.commit();
  }
  return get_trial(id);
}

void SqliteStorage::set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  Stmt ins(db_, path_, "INSERT OR REPLACE INTO params(trial_id, name, dist, value) VALUES (?, ?, ?, ?)");
  ins.bind(1, trial_id).bind(2, name).bind(3, dist.to_json()).bind(4, value);
  ins.step();
  txn.commit();
}

void SqliteStorage::set_intermediate(int64_t trial_id, int64_t step, double value) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  Stmt ins(db_, path_, "INSERT OR REPLACE INTO intermediate(trial_id, step, value) VALUES (?, ?, ?)");
  ins.bind(1, trial_id).bind(2, step).bind(3, value);
  ins.step();
  txn.commit();
}

void SqliteStorage::set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  {
    Stmt q(db_, path_, "SELECT state, number FROM trials WHERE id = ?");
    q.bind(1, trial_id);
    EMBER_CHECK(q.step(), "sqlite storage '{}': no trial with id {}", path_, trial_id);
    EMBER_CHECK(q.text(0) == "running", "sqlite storage '{}': trial {} is {}, cannot set user attribute '{}'", path_,
                q.i64(1), q.text(0), key);
  }
  Stmt ins(db_, path_, "INSERT OR REPLACE INTO user_attrs(trial_id, key, value) VALUES (?, ?, ?)");
  ins.bind(1, trial_id).bind(2, key).bind(3, json);
  ins.step();
  txn.commit();
}

void SqliteStorage::finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                                 const std::string& message) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  {
    Stmt q(db_, path_, "SELECT state, number FROM trials WHERE id = ?");
    q.bind(1, trial_id);
    EMBER_CHECK(q.step(), "sqlite storage '{}': no trial with id {}", path_, trial_id);
    EMBER_CHECK(q.text(0) == "running", "sqlite storage '{}': trial {} is already {}", path_, q.i64(1), q.text(0));
  }
  Stmt up(db_, path_, "UPDATE trials SET state = ?, value = ?, message = ?, time_end = ? WHERE id = ?");
  up.bind(1, to_string(state));
  if (value.has_value()) up.bind(2, *value);
  else up.bind_null(2);
  up.bind(3, message).bind(4, now_s()).bind(5, trial_id);
  up.step();
  txn.commit();
}

std::vector<FrozenTrial> SqliteStorage::load_trials(const char* where_sql, int64_t key) {
  std::vector<FrozenTrial> out;
  std::unordered_map<int64_t, size_t> pos;
  // One read transaction so the four queries see the same database state.
  exec("BEGIN");
  try {
    const std::string cols = "SELECT id, number, state, value, fixed, message, time_start, time_end FROM trials t ";
    Stmt q(db_, path_, (cols + where_sql + " ORDER BY number").c_str());
    q.bind(1, key);
    while (q.step()) {
      FrozenTrial t;
      t.id = q.i64(0);
      t.number = q.i64(1);
      try {
        t.state = trial_state_from_string(q.text(2));
      } catch (const Error& e) {
        EMBER_CHECK(false, "sqlite storage '{}': trial {}: {}", path_, t.number, e.what());
      }
      if (!q.is_null(3)) t.value = q.f64(3);
      t.fixed_params = fixed_from_json(q.text(4), path_, t.number);
      t.message = q.text(5);
      t.time_start = q.f64(6);
      t.time_end = q.f64(7);
      pos[t.id] = out.size();
      out.push_back(std::move(t));
    }
    const std::string sub = std::string("(SELECT id FROM trials t ") + where_sql + ")";
    Stmt p(db_, path_, ("SELECT trial_id, name, dist, value FROM params WHERE trial_id IN " + sub).c_str());
    p.bind(1, key);
    std::unordered_map<std::string, Distribution> dist_cache;
    while (p.step()) {
      const auto it = pos.find(p.i64(0));
      if (it == pos.end()) continue;
      auto& t = out[it->second];
      const std::string dj = p.text(2), name = p.text(1);
      auto dit = dist_cache.find(dj + '\n' + name);
      if (dit == dist_cache.end())
        dit = dist_cache.emplace(dj + '\n' + name, distribution_from_row(dj, path_, t.number, name)).first;
      const double value = p.f64(3);
      EMBER_CHECK(dit->second.contains(value), "sqlite storage '{}': trial {} parameter '{}': stored value {} is outside {}",
                  path_, t.number, name, value, dit->second.describe());
      t.params[name] = value;
      t.distributions[name] = dit->second;
    }
    Stmt iv(db_, path_, ("SELECT trial_id, step, value FROM intermediate WHERE trial_id IN " + sub).c_str());
    iv.bind(1, key);
    while (iv.step()) {
      const auto it = pos.find(iv.i64(0));
      if (it == pos.end()) continue;
      out[it->second].intermediate[iv.i64(1)] = iv.is_null(2) ? std::nan("") : iv.f64(2);
    }
    Stmt ua(db_, path_, ("SELECT trial_id, key, value FROM user_attrs WHERE trial_id IN " + sub).c_str());
    ua.bind(1, key);
    while (ua.step()) {
      const auto it = pos.find(ua.i64(0));
      if (it != pos.end()) out[it->second].user_attrs[ua.text(1)] = ua.text(2);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

FrozenTrial SqliteStorage::get_trial(int64_t trial_id) {
  std::lock_guard lock(mu_);
  auto v = load_trials("WHERE t.id = ?", trial_id);
  EMBER_CHECK(!v.empty(), "sqlite storage '{}': no trial with id {}", path_, trial_id);
  return std::move(v.front());
}

std::vector<TrialPtr> SqliteStorage::get_trials(int64_t study_id) {
  std::lock_guard lock(mu_);
  auto v = load_trials("WHERE t.study_id = ?", study_id);
  std::vector<TrialPtr> out;
  out.reserve(v.size());
  for (auto& t : v) out.push_back(std::make_shared<const FrozenTrial>(std::move(t)));
  return out;
}

bool SqliteStorage::claim_key(int64_t study_id, const std::string& key, int64_t trial_id) {
  std::lock_guard lock(mu_);
  Txn txn(db_, path_);
  Stmt ins(db_, path_, "INSERT OR IGNORE INTO claims(study_id, key, trial_id) VALUES (?, ?, ?)");
  ins.bind(1, study_id).bind(2, key).bind(3, trial_id);
  ins.step();
  const bool won = sqlite3_changes(db_) == 1;
  txn.commit();
  return won;
}

int SqliteStorage::fail_stale_trials(int64_t study_id) {
  std::lock_guard lock(mu_);
  const std::string host = host_name();
  std::vector<int64_t> stale;
  Txn txn(db_, path_);
  {
    Stmt q(db_, path_, "SELECT id, owner FROM trials WHERE study_id = ? AND state = 'running'");
    q.bind(1, study_id);
    while (q.step()) {
      const std::string owner = q.text(1);
      const auto colon = owner.rfind(':');
      if (colon == std::string::npos || owner.substr(0, colon) != host) continue;  // another host: can't tell
      const long pid = std::strtol(owner.c_str() + colon + 1, nullptr, 10);
      if (pid <= 0) continue;
      if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(q.i64(0));
    }
  }
  for (int64_t id : stale) {
    Stmt up(db_, path_,
            "UPDATE trials SET state = 'failed', message = 'owner process died', time_end = ? WHERE id = ?");
    up.bind(1, now_s()).bind(2, id);
    up.step();
    Stmt del(db_, path_, "DELETE FROM claims WHERE trial_id = ?");
    del.bind(1, id);
    del.step();
  }
  txn.commit();
  return static_cast<int>(stale.size());
}

}  // namespace ember::hpo
