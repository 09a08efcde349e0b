/// The text `fathom volume gc` prints and the volume janitor logs.
public enum WorkspaceReportText {
    public static func render(_ report: CollectionReport, dryRun: Bool, root: String) -> String {
        var lines: [String] = []
        let verb = dryRun ? "would remove" : "removed"
        for workspace in report.removed {
            lines.append("\(verb) \(workspace.path) (\(ByteSize.format(workspace.bytes)))")
        }
        for workspace in report.keptActive {
            lines.append("kept \(workspace.path): run \(workspace.runID) is still active")
        }
        for name in report.ignored {
            lines.append("ignored \(root)/\(name): not a run workspace")
        }
        lines.append(
            "\(dryRun ? "would free" : "freed") \(ByteSize.format(report.bytesFreed)) in \(report.removed.count) workspaces; "
                + "kept \(report.keptRecent.count) recent and \(report.keptActive.count) active")
        return lines.joined(separator: "\n")
    }
}
