// libFuzzer target: the SQLite study storage reading rows a tampered database could hold. The
// input is split at newlines into: a trial state, the enqueued-parameters JSON, a distribution
// JSON and a parameter value; they are written into a fresh, valid database with plain SQL
// (as an attacker with the file would), then read back through SqliteStorage and Study.
#include <sqlite3.h>

#include <cstring>
#include <filesystem>

#include "hpo/storage/sqlite.h"
#include "hpo/study.h"
#include "tensor/error.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

std::string field(const std::string& s, size_t& pos) {
  const size_t end = s.find('\n', pos);
  std::string out = s.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  pos = end == std::string::npos ? s.size() : end + 1;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::hpo;
  static const std::string path = ember::fuzz::scratch_path(".db");
  const std::string in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  const std::string state = field(in, pos), fixed = field(in, pos), dist = field(in, pos), value = field(in, pos);
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
  {
    Study study(StudyOptions{.name = "f", .storage = std::make_shared<SqliteStorage>(path)});
    Trial t = study.ask();
    t.suggest_float("x", 0, 1);
    study.tell(t, 0.5);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) __builtin_trap();
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "UPDATE trials SET state = ?, fixed = ?", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, state.c_str(), int(state.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, fixed.c_str(), int(fixed.size()), SQLITE_TRANSIENT);
  sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "UPDATE params SET dist = ?, value = ?", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, dist.c_str(), int(dist.size()), SQLITE_TRANSIENT);
  sqlite3_bind_double(st, 2, std::strtod(value.c_str(), nullptr));
  sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_close(db);
  try {
    auto storage = std::make_shared<SqliteStorage>(path);
    Study study(StudyOptions{.name = "f", .storage = storage});
    (void)study.best_trial();
    (void)trials_to_json("f", study.direction(), study.trials());
    (void)trials_to_csv(study.trials());
  } catch (const ember::Error&) {
  }
  return 0;
}
