// open_storage: storage URLs ("memory", "sqlite:PATH", "postgresql://...").
#include "hpo/storage/memory.h"
#include "hpo/storage/postgres.h"
#include "hpo/storage/sqlite.h"
#include "tensor/error.h"

namespace ember::hpo {

std::shared_ptr<Storage> open_storage(const std::string& url) {
  if (url.empty() || url == "memory") return std::make_shared<MemoryStorage>();
  const std::string prefix = "sqlite:";
  if (url.rfind(prefix, 0) == 0) {
    const std::string path = url.substr(prefix.size());
    EMBER_CHECK(!path.empty(), "storage: '{}' names no file (expected sqlite:PATH)", url);
    return std::make_shared<SqliteStorage>(path);
  }
  if (url.rfind("postgresql://", 0) == 0) return std::make_shared<PostgresStorage>(url);
  EMBER_CHECK(false, "storage: unknown storage '{}' (expected memory, sqlite:PATH or postgresql://...)", url);
  return nullptr;
}

}  // namespace ember::hpo
