import FathomCLI
import FathomCore
import FathomSDK
import Foundation
import Testing

struct ExampleParameters: FlowParameters {
    var name = "world"
    var count = 3
    var ratio = 0.5
    var verbose = false
    var tags: [String] = ["a"]
    var limit: Int? = nil
}

struct ExampleFlow: Flow {
    static let name = "example"
    typealias Parameters = ExampleParameters
    static func run(_ parameters: ExampleParameters, context: FlowContext) async throws {}
}

struct RangedParameters: FlowParameters {
    var gib = 0.05
    var level = 9
    var label = "x"
    var huge: UInt64 = .max
    static let ranges: [String: ClosedRange<Double>] = ["gib": 0.000_001...4096, "level": 1...9, "label": 0...1]
}

struct RangedFlow: Flow {
    static let name = "ranged"
    typealias Parameters = RangedParameters
    static func run(_ parameters: RangedParameters, context: FlowContext) async throws {}
}

struct ParameterTests {
    @Test func declaredRangesAreCheckedBeforeARunExists() async throws {
        let specs = RangedFlow.flowDescription.parameters
        #expect(specs.first { $0.name == "gib" }?.minimum == 0.000_001 && specs.first { $0.name == "level" }?.maximum == 9)
        #expect(specs.first { $0.name == "label" }?.minimum == nil, "a range applies to numbers only")
        #expect(specs.first { $0.name == "huge" }?.type == .double, "a default past Int64 is described, not trapped on")
        for (given, field, problem) in [
            (["gib": JSONValue.double(-1)], "parameters.gib", "-1 is below the minimum"),
            (["gib": .double(1e300)], "parameters.gib", "above the maximum 4096"),
            (["level": .int(0)], "parameters.level", "0 is below the minimum 1"),
        ] {
            #expect(throws: ValidationErrors.self) { try ParameterValidator.resolve(given, against: specs, flowName: "ranged") }
            do {
                _ = try ParameterValidator.resolve(given, against: specs, flowName: "ranged")
            } catch {
                #expect(error.errors.first?.field == field && error.errors.first?.problem.contains(problem) == true, "\(error.errors)")
                #expect(error.errors.first?.fix.contains("from") == true)
            }
        }
        #expect(try ParameterValidator.resolve(["gib": .int(2), "level": .int(1)], against: specs, flowName: "ranged")["gib"] == .double(2))

        // Through the coordinator: sort-compress with gib=-1 is refused before a run exists.
        try await withCoordinator { coordinator, client in
            try await registerTestFlows(client, bundle: TestPaths.examples)
            let answer = try await RawHTTP.send(.POST, coordinator.url + "/api/v1/flow-runs", body: #"{"flow":"sort-compress","parameters":{"gib":-1}}"#)
            #expect(answer.status == 422 && answer.body.contains("parameters.gib") && answer.body.contains("below the minimum"), "\(answer.body)")
            #expect(try await client.listRuns().total == 0, "nothing was created")
        }
    }

    @Test func schemaComesFromTheDefaults() {
        let specs = ExampleFlow.flowDescription.parameters
        #expect(specs == [
            ParameterSpec(name: "name", type: .string, defaultValue: .string("world")),
            ParameterSpec(name: "count", type: .int, defaultValue: .int(3)),
            ParameterSpec(name: "ratio", type: .double, defaultValue: .double(0.5)),
            ParameterSpec(name: "verbose", type: .bool, defaultValue: .bool(false)),
            ParameterSpec(name: "tags", type: .json, defaultValue: .array([.string("a")])),
            ParameterSpec(name: "limit", type: .int, defaultValue: .null),
        ])
    }

    @Test func resolveFillsDefaultsAndKeepsGivenValues() throws {
        let specs = ExampleFlow.flowDescription.parameters
        let resolved = try ParameterValidator.resolve(["count": .int(7), "ratio": .int(2)], against: specs, flowName: "example")
        #expect(resolved["count"] == .int(7))
        #expect(resolved["ratio"] == .double(2))
        #expect(resolved["name"] == .string("world"))
        #expect(resolved["limit"] == .null)
    }

    @Test func resolveRejectsWrongTypesAndUnknownNames() {
        let specs = ExampleFlow.flowDescription.parameters
        do {
            _ = try ParameterValidator.resolve(["count": .string("many"), "cuont": .int(1)], against: specs, flowName: "example")
            Issue.record("expected validation errors")
        } catch {
            let codes = error.errors.map(\.code).sorted()
            #expect(codes == ["invalid_parameter_type", "unknown_parameter"])
            let unknown = error.errors.first { $0.code == "unknown_parameter" }!
            #expect(unknown.field == "parameters.cuont")
            #expect(unknown.fix.contains("Did you mean 'count'?"))
            let wrong = error.errors.first { $0.code == "invalid_parameter_type" }!
            #expect(wrong.description.contains("parameters.count: expected int, got string many"))
        }
    }

    @Test func requiredParametersMustBeGiven() {
        let specs = [ParameterSpec(name: "input", type: .string, defaultValue: nil)]
        #expect(throws: ValidationErrors.self) { try ParameterValidator.resolve([:], against: specs, flowName: "f") }
    }

    @Test func commandLineValuesAreTypedByTheFlow() throws {
        let specs = ExampleFlow.flowDescription.parameters
        let values = try ParameterArguments.parse(
            ["name=a=b", "count=12", "ratio=1.5", "verbose=yes", "tags=[\"x\",\"y\"]", "other=5"], specs: specs)
        #expect(values["name"] == .string("a=b"))
        #expect(values["count"] == .int(12))
        #expect(values["ratio"] == .double(1.5))
        #expect(values["verbose"] == .bool(true))
        #expect(values["tags"] == .array([.string("x"), .string("y")]))
        #expect(values["other"] == .string("5"), "unknown names pass through for the coordinator to reject")
    }

    @Test func commandLineErrorsNameTheParameterAndTheFix() {
        let specs = ExampleFlow.flowDescription.parameters
        do {
            _ = try ParameterArguments.parse(["count=lots", "verbose=maybe", "novalue"], specs: specs)
            Issue.record("expected errors")
        } catch {
            let text = error.description
            #expect(text.contains("count: expected an integer, got 'lots'"))
            #expect(text.contains("verbose: expected true or false, got 'maybe'"))
            #expect(text.contains("--param novalue: expected key=value"))
        }
    }

    @Test func runConfigFilesNeedOneKnownLauncher() throws {
        let local = try RunConfig(document: try RunConfigFile.parse("local:\n  env:\n    GREETING: hi\n"))
        #expect(local.launcher == .local)
        #expect(try LocalRunSettings(local.settings).env == ["GREETING": "hi"])
        #expect(throws: ValidationErrors.self) { try RunConfig(document: try RunConfigFile.parse("lokal: {}")) }
        #expect(throws: ValidationErrors.self) { try RunConfig(document: try RunConfigFile.parse("local: {}\necs: {}")) }
        do {
            _ = try RunConfig(document: try RunConfigFile.parse("local:\n  evn: {}"))
            Issue.record("expected an unknown key error")
        } catch let error as ValidationErrors {
            #expect(error.description.contains("local.evn: unknown key 'evn'. Valid keys: env. Did you mean 'env'?"))
        }
    }
}
