import FathomSDK
import FathomToolkitTasks

/// The example flow bundle: `fathom-examples describe` lists these flows.
@main
struct Examples: FlowBundle {
    static let flows: [any Flow.Type] = [Hello.self, SortCompress.self, VolumeJanitor.self]
}
