// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "EqProp",
    products: [
        .library(name: "EqProp", targets: ["LinearAlgebra", "EnergyBasedLearning", "Datasets", "Spiking", "Plotting", "TrainingRuns", "MessagePassing"]),
        .executable(name: "eqprop", targets: ["EqPropCLI"]),
        .executable(name: "eqprop-fuzz", targets: ["Fuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev, libopenmpi-dev; installed by scripts/bootstrap).
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "SystemZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        // glibc's allocator settings (mallopt) and the SSE control register (libc6-dev, the compiler's headers).
        .systemLibrary(name: "CRuntimeTuning"),

        // Dense matrices and BLAS, generic over Float and Double.
        .target(
            name: "LinearAlgebra",
            dependencies: ["COpenBLAS", .product(name: "RealModule", package: "swift-numerics")]),
        // Energies, costs, dynamics, learning rules and reference gradients.
        .target(name: "EnergyBasedLearning", dependencies: ["LinearAlgebra"]),
        // IDX/gzip readers, MNIST and Fashion-MNIST, checksums (swift-crypto's SHA-256).
        .target(name: "Datasets", dependencies: ["SystemZlib", .product(name: "Crypto", package: "swift-crypto")]),
        // Poisson spiking neurons and the STDP window of the spike-based rule.
        .target(name: "Spiking", dependencies: ["EnergyBasedLearning", "LinearAlgebra"]),
        // SVG plots (STDP windows, alignment sweeps, learning curves).
        .target(name: "Plotting"),
        // YAML run files (and the presets, which are run files), .npz checkpoints and resuming.
        .target(
            name: "TrainingRuns",
            dependencies: [
                "EnergyBasedLearning", "Datasets", "LinearAlgebra",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            resources: [
                .embedInCode("Presets/scellier2017-net1.yaml"),
                .embedInCode("Presets/scellier2017-net2.yaml"),
                .embedInCode("Presets/scellier2017-net3.yaml"),
                .embedInCode("Presets/scellier2017-net1-fast.yaml"),
                .embedInCode("Presets/scellier2017-net2-fast.yaml"),
                .embedInCode("Presets/scellier2017-net3-fast.yaml"),
                .embedInCode("Presets/scellier2017-net2-fast-shift.yaml"),
                .embedInCode("Presets/scellier2017-net3-fast-shift.yaml"),
                .embedInCode("Presets/family-mlp.yaml"),
                .embedInCode("Presets/family-mlp-fashion.yaml"),
                .embedInCode("Presets/pcx-mlp.yaml"),
                .embedInCode("Presets/pcx-mlp-fashion.yaml"),
                .embedInCode("Presets/conv-mnist.yaml"),
                .embedInCode("Presets/conv-mnist-32-64-shift.yaml"),
                .embedInCode("Presets/conv-fashion-mnist.yaml"),
                .embedInCode("Presets/conv-fashion-mnist-pc.yaml"),
            ]),
        // Data-parallel training on the ranks of an MPI job (Open MPI).
        .target(name: "MessagePassing", dependencies: ["CMPI", "EnergyBasedLearning", "LinearAlgebra"]),
        // The `eqprop` command-line tool.
        .executableTarget(
            name: "EqPropCLI",
            dependencies: [
                "EnergyBasedLearning", "Datasets", "LinearAlgebra", "Spiking", "Plotting", "TrainingRuns", "CRuntimeTuning", "MessagePassing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // libFuzzer entry points for the IDX/gzip, run-file and checkpoint loaders (see the README).
        .executableTarget(name: "Fuzzing", dependencies: ["Datasets", "TrainingRuns"]),
        .testTarget(
            name: "EqPropTests",
            dependencies: ["EnergyBasedLearning", "Datasets", "LinearAlgebra", "Spiking", "Plotting", "TrainingRuns"],
            // Run folders of an earlier version, read from their path (see Fixtures/README.md).
            exclude: ["Fixtures"]),
    ]
)
