// A test hook, as HSM_MIGRATE_CRASH_POINT is for crashes
// (plugins/api/crash_point.hpp): with
//
//   HSM_MIGRATE_S3_FAULT=OPERATION:N[:ACTION][,OPERATION:N[:ACTION]...]
//
// in the environment, the first attempt of the Nth request of OPERATION (S3's
// name: UploadPart, PutObject, CompleteMultipartUpload, GetObject, ...) made
// by this process meets a fault, so the end-to-end tests can drive the
// binary through the network's failures:
//
//   cut   (default) the request body stops after 1 byte and the connection
//         drops: a network error, which the retry wrapper (http.hpp) retries;
//   flip  one body byte is flipped after signing: the server must refuse it
//         (integrity), and it is not retried;
//   stop  the process stops itself (SIGSTOP) before the attempt, so a test
//         can kill the gateway under a backup that is mid-upload, then
//         SIGCONT it.
//
// Without the variable (always, outside the tests) no hook is installed.
// A malformed value is a usage error, so a test never runs without its fault.
#pragma once

#include "formats/repo/s3/http.hpp"

namespace hsm::repo::s3 {

inline constexpr const char* kFaultEnv = "HSM_MIGRATE_S3_FAULT";

// The hook for the value of HSM_MIGRATE_S3_FAULT; an empty FaultHook when the
// variable is unset or empty. Errors: usage (malformed).
api::Result<FaultHook> fault_hook_from_env(const EnvLookup& env = process_environment());

}  // namespace hsm::repo::s3
