#include "bbo/device.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "bbo/error.h"

namespace bbo {
namespace {

TEST(DeviceTest, ParsesEveryForm) {
  EXPECT_EQ(Device::parse("cpu"), (Device{Device::Kind::Cpu, 0}));
  EXPECT_EQ(Device::parse("auto"), (Device{Device::Kind::Auto, 0}));
  EXPECT_EQ(Device::parse("cuda"), (Device{Device::Kind::Cuda, 0}));
  EXPECT_EQ(Device::parse("cuda:0"), (Device{Device::Kind::Cuda, 0}));
  EXPECT_EQ(Device::parse("cuda:13"), (Device{Device::Kind::Cuda, 13}));
  for (const char* text : {"cpu", "auto", "cuda:0", "cuda:7"}) EXPECT_EQ(Device::parse(text).str(), text);
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
}

TEST(DeviceTest, RejectsMalformedText) {
  for (const char* text : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:1x", "cuda:x", "cuda 0", "cuda:99999999999"}) {
    try {
      Device::parse(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + std::string(text) + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceTest, ProbeIsConsistent) {
  const CudaInfo& info = cuda_info();
  EXPECT_EQ(&info, &cuda_info());  // probed once
  EXPECT_EQ(info.names.size(), static_cast<size_t>(info.device_count));
  if (info.device_count == 0)
    EXPECT_FALSE(info.unavailable_reason.empty());
  else
    EXPECT_TRUE(info.unavailable_reason.empty());
}

TEST(DeviceTest, CpuAndAutoResolveWithoutNotice) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(resolve_device(Device::parse("cpu"), true, "device_test_a").kind, Device::Kind::Cpu);
  EXPECT_EQ(resolve_device(Device::parse("auto"), false, "device_test_a").kind, Device::Kind::Cpu);
  const Device automatic = resolve_device(Device::parse("auto"), true, "device_test_a");
  EXPECT_EQ(automatic.kind, cuda_info().device_count > 0 ? Device::Kind::Cuda : Device::Kind::Cpu);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(DeviceTest, ExplicitCudaFallsBackWithOneNotice) {
  const int n = cuda_info().device_count;
  const Device beyond{Device::Kind::Cuda, n};  // never exists
  testing::internal::CaptureStderr();
  EXPECT_EQ(resolve_device(beyond, false, "device_test_b").kind, Device::Kind::Cpu);
  EXPECT_EQ(resolve_device(beyond, false, "device_test_b").kind, Device::Kind::Cpu);
  const std::string err = testing::internal::GetCapturedStderr();
  const std::string head = "bbo: device_test_b: device 'cuda:" + std::to_string(n) + "' unavailable (";
  EXPECT_EQ(err.rfind(head, 0), 0u) << err;
  EXPECT_NE(err.find("computing on the CPU\n"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "one line, once: " << err;
  if (n > 0) {
    EXPECT_EQ(resolve_device(Device::parse("cuda:0"), false, "device_test_c").index, 0);
  }
}

TEST(DeviceTest, MissingBackendGivesAReason) {
  std::string reason;
  EXPECT_EQ(open_cuda_backend(nullptr, "libbbo_no_such_backend_cuda.so", "factory", &reason), nullptr);
  EXPECT_FALSE(reason.empty());
  if (cuda_info().built_with_cuda) {
    EXPECT_NE(reason.find("libbbo_no_such_backend_cuda.so"), std::string::npos) << reason;
  }
}

// Tests only: BBO_CUDA_EMULATION (the host emulation of tests/cuda_emu) makes the probe report one emulated device
// and the backend search look only in that folder. Checked in a fresh process: the probe runs once per process.
TEST(DeviceTest, EmulationVariableReportsTheEmulatedDeviceAndSearchesOnlyItsFolder) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv(kCudaEmulationVariable, "/nonexistent/bbo_emulated", 1);
        const CudaInfo& info = cuda_info();
        std::string reason;
        const void* factory = open_cuda_backend(nullptr, "libbbo_gp_cuda.so", "bbo_gp_cuda_create", &reason);
        const bool ok = info.device_count == 1 && info.built_with_cuda && info.names.size() == 1 &&
                        info.names[0] == kCudaEmulationDeviceName && info.unavailable_reason.empty() &&
                        factory == nullptr && reason.find("/nonexistent/bbo_emulated") != std::string::npos &&
                        resolve_device(Device::parse("cuda"), false, "device_test_e").kind == Device::Kind::Cuda;
        if (!ok) std::fprintf(stderr, "device_count %d, reason '%s'\n", info.device_count, reason.c_str());
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace bbo
