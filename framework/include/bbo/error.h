// bbo/error.h — the one error hierarchy.
//
// Every error bbo raises derives from bbo::Error (itself a std::runtime_error). The message is a single line
// that names what was wrong and where (parameter, key, plugin, trial number, storage URL, ...). The CLI maps
// each class to a documented exit code (see exit_code()).
#pragma once

#include <stdexcept>
#include <string>

namespace bbo {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Invalid input from the user: a bad search space, a wrong number of values, an invalid argument.
class ValueError : public Error {
 public:
  using Error::Error;
};

// Malformed or inconsistent configuration: YAML/JSON study files, plugin parameters, CLI options.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Something looked up by name or number does not exist (study, trial, plugin).
class NotFoundError : public Error {
 public:
  using Error::Error;
};

// Something created under a name that is already taken (a study name).
class DuplicateError : public Error {
 public:
  using Error::Error;
};

// The storage backend failed: cannot open, I/O error, corrupted schema, lost connection.
class StorageError : public Error {
 public:
  using Error::Error;
};

// A plugin could not be loaded or refused to construct (missing entry, wrong ABI, duplicate, throwing factory).
class PluginError : public Error {
 public:
  using Error::Error;
};

// An operation that the trial's state does not allow (writing to a finished trial, telling twice).
class TrialStateError : public Error {
 public:
  using Error::Error;
};

// Exit codes used by the `bbo` CLI, one per error class. 0 is success; 2 is reserved for usage errors
// (unknown command or option, detected by the argument parser).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,         // any other bbo::Error or unexpected exception
  kExitUsage = 2,         // wrong command-line arguments
  kExitConfig = 3,        // ConfigError, ValueError
  kExitNotFound = 4,      // NotFoundError
  kExitStorage = 5,       // StorageError
  kExitPlugin = 6,        // PluginError
  kExitTrialState = 7,    // TrialStateError
  kExitDuplicate = 8,     // DuplicateError
  kExitPruned = 10,       // `bbo should-prune`: the trial should be pruned (not an error)
};

// Maps an exception to the CLI exit code of its class.
int exit_code(const std::exception& e) noexcept;

}  // namespace bbo
