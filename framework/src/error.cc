#include "bbo/error.h"

namespace bbo {

int exit_code(const std::exception& e) noexcept {
  if (dynamic_cast<const ConfigError*>(&e) || dynamic_cast<const ValueError*>(&e)) return kExitConfig;
  if (dynamic_cast<const NotFoundError*>(&e)) return kExitNotFound;
  if (dynamic_cast<const StorageError*>(&e)) return kExitStorage;
  if (dynamic_cast<const PluginError*>(&e)) return kExitPlugin;
  if (dynamic_cast<const TrialStateError*>(&e)) return kExitTrialState;
  if (dynamic_cast<const DuplicateError*>(&e)) return kExitDuplicate;
  return kExitError;
}

}  // namespace bbo
