import FathomCLI

/// The `fathom` executable: everything lives in FathomCLI.
@main
enum FathomMain {
    static func main() async {
        await Fathom.main()
    }
}
