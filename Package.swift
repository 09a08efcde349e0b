// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "Fathom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fathom", targets: ["fathom"]),
        .executable(name: "fathom-examples", targets: ["FathomExamples"]),
        .executable(name: "fathom-test-flows", targets: ["FathomTestFlows"]),
        .executable(name: "fathom-fuzz", targets: ["FathomFuzz"]),
        .library(name: "FathomSDK", targets: ["FathomSDK"]),
        .library(name: "FathomToolkitTasks", targets: ["FathomToolkitTasks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Ids, states and the run state machine, parameter schemas, errors. Foundation only.
        .target(name: "FathomCore", swiftSettings: swiftSettings),
        // The wire types of /api/v1: what the coordinator and its clients say to each other. Foundation only.
        .target(name: "FathomAPI", dependencies: ["FathomCore"], swiftSettings: swiftSettings),
        // The typed HTTP client for /api/v1, its retries, and the batching sink a running flow logs through.
        .target(
            name: "FathomClient",
            dependencies: [
                "FathomCore", "FathomAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Our own small AWS client: SigV4, the credential chain, and the ECS, EFS, EC2, S3, Logs and STS calls Fathom needs.
        .target(
            name: "AWS",
            dependencies: [
                "FathomCore", "FathomProcess", "FathomClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The ECS run config: parsing, checks against AWS's shapes and rules, rendering of the AWS requests. Offline.
        .target(
            name: "FathomECS",
            dependencies: ["FathomCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Content-addressed flow bundle storage.
        .target(
            name: "FathomStorage",
            dependencies: [
                "FathomCore", "FathomAPI", "AWS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Debian's libbz2 (libbz2-dev), for the toolkit's parallel bzip2.
        .systemLibrary(name: "CBZip2", pkgConfig: nil, providers: [.apt(["libbz2-dev"])]),
        // Big files on the scratch volume: external merge sort, parallel bzip2, workspace expiry. No server code.
        .target(
            name: "FathomToolkit",
            dependencies: ["FathomCore", "CBZip2", "CMalloc"],
            // The toolkit's codec and sort work through megabytes in the tests as well: optimized in debug builds
            // too, so the test run's other suites (many of them timing-sensitive) keep their cores.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The parsers of user input as libFuzzer targets (scripts/fuzz); built plainly, it replays inputs.
        .executableTarget(name: "FathomFuzz", dependencies: ["FathomCore", "FathomToolkit", "CFuzzer"], swiftSettings: swiftSettings),
        // glibc's mallopt, so the toolkit's large short-lived buffers go back to the system when freed.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .systemLibrary(name: "CFuzzer", path: "Sources/CFuzzer"),
        // Child processes in their own process group, with streamed output lines and group kill on cancel.
        .target(
            name: "FathomProcess",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // Flows, tasks, shell tasks, the executor and the bundle entry point.
        .target(
            name: "FathomSDK",
            dependencies: [
                "FathomCore", "FathomAPI", "FathomClient", "FathomProcess", "FathomStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The toolkit as tasks of a flow (sort, bzip2, bunzip2 with progress and cancellation) and the volume janitor flow.
        .target(name: "FathomToolkitTasks", dependencies: ["FathomSDK", "FathomToolkit"], swiftSettings: swiftSettings),
        // The web UI's pages: mustache templates and the view models they render. No server code.
        .target(
            name: "FathomWebUI",
            dependencies: [
                "FathomCore", "FathomAPI", "FathomECS",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        // The coordinator: HTTP API, web UI routes, SQLite store (PostgreSQL: its first part), claims, schedules, metrics, heartbeat reaper.
        .target(
            name: "FathomAlerts",
            dependencies: [
                "FathomCore", "FathomAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "FathomServer",
            dependencies: [
                "FathomAlerts",
                "FathomCore", "FathomAPI", "FathomStorage", "FathomECS", "AWS", "FathomWebUI", "CMalloc",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent's claim loop and launchers.
        .target(
            name: "FathomAgent",
            dependencies: [
                "FathomCore", "FathomAPI", "FathomClient", "FathomProcess", "FathomRunner", "AWS", "FathomECS",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `fathom infra`: the CloudFormation template, the IAM policies made from the operations Fathom sends, run configs from stacks.
        .target(
            name: "FathomInfra",
            dependencies: [
                "FathomCore", "AWS", "FathomAgent", "FathomStorage",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // `fathom execute`: fetch, verify and start a flow run's bundle.
        .target(
            name: "FathomRunner",
            dependencies: ["FathomCore", "FathomAPI", "FathomClient", "FathomStorage", "AWS"],
            swiftSettings: swiftSettings
        ),
        // One ArgumentParser type per command.
        .target(
            name: "FathomCLI",
            dependencies: [
                "FathomCore", "FathomAPI", "FathomClient", "FathomStorage", "FathomServer", "FathomAlerts", "FathomAgent", "FathomRunner", "FathomProcess", "AWS", "FathomECS", "FathomToolkit", "FathomInfra",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fathom",
            dependencies: ["FathomCLI", "FathomExamples"],
            swiftSettings: swiftSettings
        ),
        // The example flow bundle: hello and sort-compress.
        .executableTarget(
            name: "FathomExamples",
            dependencies: ["FathomSDK", "FathomToolkitTasks"],
            path: "Examples/FathomExamples",
            swiftSettings: swiftSettings
        ),
        // Flows the tests and benchmarks launch as real processes: sleepers, failures, many tasks, many logs.
        .executableTarget(
            name: "FathomTestFlows",
            dependencies: ["FathomSDK", "FathomToolkitTasks"],
            path: "Tests/FathomTestFlows",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FathomTests",
            dependencies: [
                "FathomCore", "FathomAPI", "FathomClient", "FathomStorage", "FathomSDK", "FathomToolkitTasks", "FathomServer",
                "FathomAgent", "FathomRunner", "FathomCLI", "FathomProcess", "AWS", "FathomECS", "FathomToolkit", "FathomInfra",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Support/python"],
            swiftSettings: swiftSettings
        ),
    ]
)
