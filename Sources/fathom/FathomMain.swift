import FathomCLI

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The `fathom` executable: everything lives in FathomCLI.
@main
enum FathomMain {
    static func main() async {
        // Line-buffer stdout so output reaches pipes (CI logs, `tee`, tests) as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        // GNU spellings ArgumentParser cannot read as they are (`sort --check=quiet`) become ones it can.
        await Fathom.main(GNUSpellings.rewrite(Array(CommandLine.arguments.dropFirst())))
    }
}
