// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "EqProp",
    products: [
        .library(name: "EqProp", targets: ["LinearAlgebra", "EnergyBasedLearning", "Datasets", "Spiking", "Plotting"]),
        .executable(name: "eqprop", targets: ["EqPropCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev; installed by scripts/bootstrap).
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // Dense matrices and BLAS, generic over Float and Double.
        .target(
            name: "LinearAlgebra",
            dependencies: ["COpenBLAS", .product(name: "RealModule", package: "swift-numerics")]),
        // Energies, costs, dynamics, learning rules and reference gradients.
        .target(name: "EnergyBasedLearning", dependencies: ["LinearAlgebra"]),
        // IDX/gzip readers, MNIST and Fashion-MNIST.
        .target(name: "Datasets", dependencies: ["CZlib"]),
        // Poisson spiking neurons and the STDP window of the spike-based rule.
        .target(name: "Spiking", dependencies: ["EnergyBasedLearning", "LinearAlgebra"]),
        // SVG plots (STDP windows, alignment sweeps, learning curves).
        .target(name: "Plotting"),
        // The `eqprop` command-line tool.
        .executableTarget(
            name: "EqPropCLI",
            dependencies: [
                "EnergyBasedLearning", "Datasets", "LinearAlgebra", "Spiking", "Plotting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "EqPropTests",
            dependencies: ["EnergyBasedLearning", "Datasets", "LinearAlgebra", "Spiking", "Plotting"]),
    ]
)
