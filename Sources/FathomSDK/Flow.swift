import FathomAPI
import FathomCore
import Foundation

/// The parameters of a flow: a Codable struct whose `init()` gives every default.
///
/// ```swift
/// struct Parameters: FlowParameters {
///     var folder = "hello"
///     var bytes = 1024
/// }
/// ```
public protocol FlowParameters: Codable, Sendable {
    init()
    /// The range each numeric parameter must lie in, by name: the coordinator refuses a run outside it
    /// before anything starts (`["gib": 0.000_001...4096, "level": 1...9]`). None by default.
    static var ranges: [String: ClosedRange<Double>] { get }
}

extension FlowParameters {
    public static var ranges: [String: ClosedRange<Double>] { [:] }
}

/// For flows that take no parameters.
public struct NoParameters: FlowParameters {
    public init() {}
}

/// A flow: an async function with typed parameters, run as a flow run.
///
/// ```swift
/// struct Hello: Flow {
///     static let name = "hello"
///     struct Parameters: FlowParameters { var greeting = "hi" }
///     static func run(_ parameters: Parameters, context: FlowContext) async throws {
///         context.logger.info("\(parameters.greeting)")
///     }
/// }
/// ```
public protocol Flow {
    associatedtype Parameters: FlowParameters
    /// The flow's name, unique within the coordinator.
    static var name: String { get }
    /// One line on what the flow does.
    static var summary: String { get }
    /// Whole-run retries: a Failed or Crashed run is run again as a new attempt. None by default.
    static var retryPolicy: RunRetryPolicy? { get }
    /// The flow's body.
    static func run(_ parameters: Parameters, context: FlowContext) async throws
}

extension Flow {
    public static var summary: String { "" }
    public static var retryPolicy: RunRetryPolicy? { nil }

    /// The flow as a bundle describes it.
    public static var flowDescription: FlowDescription {
        FlowDescription(
            name: name, summary: summary, parameters: ParameterSchema.specs(of: Parameters()), retryPolicy: retryPolicy)
    }

    /// Starts the flow in a new task.
    static func startTask(parameters: [String: JSONValue], context: FlowContext) -> Task<Void, any Error> {
        Task { try await execute(parameters: parameters, context: context) }
    }

    /// Decodes parameters from the run's JSON and runs the flow.
    static func execute(parameters: [String: JSONValue], context: FlowContext) async throws {
        let data = try JSONEncoder().encode(parameters)
        let decoded: Parameters
        do {
            decoded = try JSONDecoder().decode(Parameters.self, from: data)
        } catch {
            throw FlowParameterError(flowName: name, detail: "\(error)")
        }
        try await run(decoded, context: context)
    }
}

/// The run's parameters did not decode into the flow's `Parameters` type.
public struct FlowParameterError: Error, CustomStringConvertible {
    public var flowName: String
    public var detail: String

    public var description: String {
        "parameters of flow '\(flowName)' do not match its Parameters type: \(detail). Register the bundle again so the coordinator knows its current parameters."
    }
}
