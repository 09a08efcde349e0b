/// Human text for sort progress, shared by the CLI's progress line and a flow's log records.
public enum SortProgressText {
    public static func describe(_ state: SortProgress) -> String {
        switch state.phase {
        case .reading:
            return "sort: read \(ByteSize.format(state.bytesRead)), \(state.runsWritten) runs written"
        case .merging(let pass, let passes):
            return "sort: merging \(state.runsWritten) runs, pass \(pass) of \(passes): \(ByteSize.format(state.bytesMerged)) of \(ByteSize.format(state.bytesRead))"
        case .done:
            return "sort: done, \(ByteSize.format(state.bytesMerged)) written"
        }
    }

    public static func summary(_ summary: SortSummary) -> String {
        let rate = summary.seconds > 0 ? Double(summary.bytesRead) / summary.seconds : 0
        let seconds = (summary.seconds * 100).rounded() / 100
        var reused = summary.reusedRuns > 0
            ? " (\(summary.reusedRuns) of them, \(ByteSize.format(summary.reusedBytes)) of input, from the checkpoint)" : ""
        if summary.reusedMergeBytes > 0 { reused += " (\(ByteSize.format(summary.reusedMergeBytes)) of the final merge from the checkpoint)" }
        return "sort: \(ByteSize.format(summary.bytesRead)) in \(seconds) s (\(ByteSize.format(Int(rate)))/s), "
            + "\(summary.runs) runs\(reused), \(summary.mergePasses) merge passes"
    }
}
