import FathomCore
import Testing

/// The run state machine, checked against an independent table of every legal transition.
struct StateMachineTests {
    /// The legal transitions, written out by hand from the design (docs/ARCHITECTURE.md).
    static let legal: [FlowRunState: Set<FlowRunState>] = [
        .scheduled: [.pending, .cancelling, .cancelled, .crashed],
        .pending: [.running, .cancelling, .cancelled, .crashed, .failed, .scheduled],
        .running: [.completed, .failed, .crashed, .cancelling, .cancelled],
        .cancelling: [.cancelled, .crashed, .completed, .failed],
        .completed: [], .failed: [], .crashed: [], .cancelled: [],
    ]

    @Test(arguments: FlowRunState.allCases)
    func everyTransitionFrom(_ from: FlowRunState) {
        for to in FlowRunState.allCases {
            let expected = Self.legal[from]!.contains(to)
            #expect(from.canTransition(to: to) == expected, "\(from) → \(to) should be \(expected ? "legal" : "illegal")")
        }
    }

    @Test func finalStatesNeverMove() {
        let finals = FlowRunState.allCases.filter(\.isFinal)
        #expect(Set(finals) == [.completed, .failed, .crashed, .cancelled])
        for state in finals { #expect(state.allowedNextStates.isEmpty) }
    }

    @Test func noStateMovesToItself() {
        for state in FlowRunState.allCases { #expect(!state.canTransition(to: state)) }
    }

    @Test func namesParseCaseInsensitively() {
        #expect(FlowRunState(name: "running") == .running)
        #expect(FlowRunState(name: "CRASHED") == .crashed)
        #expect(FlowRunState(name: "runing") == nil)
    }
}
