// swift-tools-version:6.0
import PackageDescription

/// Flags applied to every Swift target. CI adds `-warnings-as-errors` through the Makefile.
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "Rampart",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "RampartStorage", targets: ["RampartStorage"]),
        .library(name: "RampartMetadata", targets: ["RampartMetadata"]),
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .executable(name: "rampart", targets: ["rampart"]),
        .executable(name: "kafka-protocol-generator", targets: ["KafkaProtocolGenerator"]),
        .executable(name: "rampart-protocol-bench", targets: ["RampartProtocolBench"]),
        .executable(name: "rampart-fuzz-request", targets: ["RampartFuzzRequest"]),
        .executable(name: "rampart-storage-bench", targets: ["RampartStorageBench"]),
        .executable(name: "rampart-authorizer-bench", targets: ["RampartAuthorizerBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C shims: CRC32C (SSE4.2 with a software fallback).
        .target(name: "CRampartShims", cSettings: [.unsafeFlags(["-O3"])]),
        // System compression libraries (Debian -dev packages).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSnappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // The system OpenSSL 3 (DESIGN.md: TLS through libssl-dev) and shims for its macros.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CRampartOpenSSLShims", dependencies: ["COpenSSL"]),
        // The system Cyrus SASL (DESIGN.md: SASL through libsasl2-dev; the SCRAM plugin is in
        // libsasl2-modules, GSSAPI's in libsasl2-modules-gssapi-mit) and Rampart's in-process credential plugin for it.
        .systemLibrary(name: "CSASL2", pkgConfig: "libsasl2", providers: [.apt(["libsasl2-dev", "libsasl2-modules", "libsasl2-modules-gssapi-mit"])]),
        .target(name: "CRampartSASLShims", dependencies: ["CSASL2"]),
        .target(
            name: "RampartSASL",
            dependencies: ["CSASL2", "CRampartSASLShims", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RampartTLS",
            dependencies: ["COpenSSL", "CRampartOpenSSLShims", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "KafkaProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "CRampartShims", "CZlib", "CSnappy", "CLZ4", "CZstd",
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: swiftSettings
        ),
        .target(name: "KafkaProtocolCodegen", swiftSettings: swiftSettings),
        .target(
            name: "KafkaClient",
            dependencies: [
                "KafkaProtocol", "RampartProperties", "RampartTLS", "RampartSASL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RampartCLI",
            dependencies: [
                "RampartServer", "RampartBroker", "KafkaProtocol", "KafkaClient", "RampartTLS", "RampartSASL", "RampartMetadata",
                "RampartAuthorizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "rampart",
            dependencies: ["RampartCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "KafkaProtocolGenerator",
            dependencies: ["KafkaProtocolCodegen"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RampartStorage",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "RampartMetadata", swiftSettings: swiftSettings),
        // ACL model, policy files, evaluation, explain, audit events (DESIGN.md: pure, snapshot).
        .target(
            name: "RampartAuthorizer",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(name: "RampartProperties", swiftSettings: swiftSettings),
        .target(
            name: "RampartServer",
            dependencies: [
                "RampartBroker", "RampartStorage", "RampartMetadata", "KafkaProtocol", "RampartProperties", "RampartTLS", "RampartSASL",
                "RampartAuthorizer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RampartBroker",
            dependencies: [
                "KafkaProtocol", "RampartStorage", "RampartMetadata", "RampartSASL", "RampartAuthorizer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RampartProtocolBench",
            dependencies: ["KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RampartStorageBench",
            dependencies: ["RampartStorage", "KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Counts allocations in the authorizer benchmark (interposes malloc on glibc; bench only).
        .target(name: "CRampartMallocCounter"),
        .executableTarget(
            name: "RampartAuthorizerBench",
            dependencies: ["RampartAuthorizer", "CRampartMallocCounter"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RampartFuzzRequest",
            dependencies: ["KafkaProtocol", "CRampartShims", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),

        .target(name: "RampartTestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "KafkaProtocolTests",
            dependencies: [
                "KafkaProtocol", "KafkaProtocolCodegen",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RampartBrokerTests",
            dependencies: [
                "RampartBroker", "KafkaProtocol", "RampartMetadata", "RampartStorage", "RampartSASL", "RampartAuthorizer",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KafkaClientTests",
            dependencies: [
                "KafkaClient", "KafkaProtocol", "RampartServer", "RampartTLS", "RampartSASL", "RampartMetadata",
                "RampartTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RampartTLSTests",
            dependencies: [
                "RampartTLS", "RampartTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RampartSASLTests", dependencies: ["RampartSASL", "COpenSSL"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RampartServerTests",
            dependencies: [
                "RampartServer", "RampartProperties", "RampartSASL", "RampartMetadata", "RampartBroker", "RampartAuthorizer", "RampartStorage",
                "RampartCLI",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RampartAuthorizerTests", dependencies: ["RampartAuthorizer"], swiftSettings: swiftSettings),
        .testTarget(name: "RampartMetadataTests", dependencies: ["RampartMetadata"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RampartStorageTests",
            dependencies: ["RampartStorage", "KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
