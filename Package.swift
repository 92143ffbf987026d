// swift-tools-version: 6.1
import PackageDescription

// No target carries unsafe flags, so EdgeHAL can be a versioned dependency. The CPU backend's
// speed depends on the vector ISA the compiler targets: on x86-64 the default baseline is SSE2,
// where SIMD8<Float> is split in halves and every fused multiply-add is a call to fmaf. Builds
// that know their CPU pass it with a toolset (`swift build -c release --toolset Toolsets/native.json`,
// or Toolsets/haswell.json for binaries that run on other AVX2 machines); docs/embedding.md
// says what each choice costs. arm64's baseline already has NEON and FMA.
let package = Package(
    name: "EdgeHAL",
    products: [
        .library(name: "EdgeHAL", targets: ["EdgeHAL"]),
        .library(name: "EdgeHALKit", targets: ["EdgeHALKit"]),
        .library(name: "EdgeHALCPU", targets: ["EdgeHALCPU"]),
        .library(name: "EdgeHALReference", targets: ["EdgeHALReference"]),
        .library(name: "EdgeHALVulkan", targets: ["EdgeHALVulkan"]),
        .library(name: "EdgeHALOpenCL", targets: ["EdgeHALOpenCL"]),
        .library(name: "EdgeHALPlugins", targets: ["EdgeHALPlugins"]),
        .library(name: "EdgeHALConformance", targets: ["EdgeHALConformance"]),
        .library(name: "EdgeHALModels", targets: ["EdgeHALModels"]),
        .library(name: "EdgeHALBuiltins", targets: ["EdgeHALBuiltins"]),
        .library(name: "EdgeHALPluginABI", targets: ["EdgeHALPluginABI"]),
        .library(name: "TemplatePlugin", type: .dynamic, targets: ["TemplatePlugin"]),
        .library(name: "CTemplatePlugin", type: .dynamic, targets: ["CTemplatePlugin"]),
        .executable(name: "hwprobe", targets: ["hwprobe"]),
        .executable(name: "conformance", targets: ["conformance"]),
        .executable(name: "edgehal", targets: ["edgehal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .target(name: "EdgeHAL", path: "Sources/EdgeHAL"),
        .target(name: "EdgeHALReference", dependencies: ["EdgeHAL"], path: "Backends/Reference"),
        .target(name: "EdgeHALCPU", dependencies: ["EdgeHAL"], path: "Backends/CPU"),
        .systemLibrary(name: "CVulkan", path: "Backends/Vulkan/CVulkan"),
        .target(name: "CVulkanKernels", path: "Backends/Vulkan/CVulkanKernels"),
        .systemLibrary(name: "COpenCL", path: "Backends/OpenCL/COpenCL"),
        // The host skeleton both GPU backends share: loader, self-checking kernel cache, op arguments.
        .target(name: "EdgeHALGPU", dependencies: ["EdgeHAL", .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/EdgeHALGPU"),
        .target(name: "EdgeHALOpenCL", dependencies: ["EdgeHAL", "EdgeHALGPU", "COpenCL"],
                path: "Backends/OpenCL", exclude: ["COpenCL"]),
        .target(name: "EdgeHALVulkan", dependencies: ["EdgeHAL", "EdgeHALGPU", "CVulkan", "CVulkanKernels"], path: "Backends/Vulkan",
                exclude: ["CVulkan", "CVulkanKernels"]),
        .target(name: "EdgeHALConformance", dependencies: ["EdgeHAL", "EdgeHALReference"],
                path: "Sources/EdgeHALConformance"),
        .target(name: "EdgeHALModels", dependencies: ["EdgeHAL", .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/EdgeHALModels"),
        .target(name: "EdgeHALKit", dependencies: ["EdgeHAL", "EdgeHALModels", "EdgeHALCPU", "EdgeHALReference"],
                path: "Sources/EdgeHALKit"),
        .target(name: "EdgeHALPluginABI", path: "Sources/EdgeHALPluginABI"),
        .target(name: "EdgeHALPlugins", dependencies: [
            "EdgeHAL", "EdgeHALPluginABI", .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Sources/EdgeHALPlugins"),
        .target(name: "EdgeHALBuiltins", dependencies: ["EdgeHAL", "EdgeHALReference", "EdgeHALCPU", "EdgeHALVulkan", "EdgeHALOpenCL",
                                                  "EdgeHALPlugins"],
                path: "Sources/EdgeHALBuiltins"),
        .executableTarget(name: "hwprobe", dependencies: [
            "EdgeHAL", "EdgeHALBuiltins", "EdgeHALModels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tools/hwprobe"),
        .executableTarget(name: "conformance", dependencies: [
            "EdgeHAL", "EdgeHALBuiltins", "EdgeHALConformance", "EdgeHALCPU", "EdgeHALModels", "EdgeHALPlugins", "EdgeHALReference",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tools/conformance"),
        .executableTarget(name: "edgehal", dependencies: [
            "EdgeHAL", "EdgeHALBuiltins", "EdgeHALModels", "EdgeHALConformance",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Tools/edgehal"),
        .target(name: "TemplatePlugin", dependencies: ["EdgeHALPluginABI"], path: "Examples/TemplatePlugin"),
        .target(name: "CTemplatePlugin", dependencies: ["EdgeHALPluginABI"], path: "Examples/CPlugin"),
        .testTarget(name: "EdgeHALTests", dependencies: ["EdgeHAL", "EdgeHALReference"],
                    path: "Tests/EdgeHALTests", exclude: ["Fixtures"]),
        .testTarget(name: "EdgeHALKitTests", dependencies: ["EdgeHALKit", "EdgeHALModels", "EdgeHAL"],
                    path: "Tests/EdgeHALKitTests"),
        .testTarget(name: "EdgeHALGPUTests", dependencies: ["EdgeHALGPU", "EdgeHAL"], path: "Tests/EdgeHALGPUTests"),
        .testTarget(name: "EdgeHALCPUTests", dependencies: ["EdgeHAL", "EdgeHALCPU", "EdgeHALReference"],
                    path: "Tests/EdgeHALCPUTests"),
        .testTarget(name: "EdgeHALModelsTests", dependencies: ["EdgeHAL", "EdgeHALModels", "EdgeHALReference", "EdgeHALCPU", "EdgeHALBuiltins", "EdgeHALVulkan",
                                                                   "EdgeHALOpenCL"],
                    path: "Tests/EdgeHALModelsTests", exclude: ["Fixtures"]),
        .testTarget(name: "EdgeHALConformanceTests",
                    dependencies: ["EdgeHAL", "EdgeHALReference", "EdgeHALConformance", "EdgeHALBuiltins", "EdgeHALCPU", "EdgeHALVulkan",
                                   "EdgeHALPlugins", "EdgeHALOpenCL"],
                    path: "Tests/EdgeHALConformanceTests"),
    ],
    swiftLanguageModes: [.v6]
)
