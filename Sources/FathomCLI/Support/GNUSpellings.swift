/// Spellings of GNU sort and bzip2 that ArgumentParser cannot read as they are, rewritten to ones it can before
/// parsing; only the toolkit subcommands' arguments are touched, and only up to a `--`:
///
/// - `sort --check=quiet` / `--check=silent` become `-C`, `--check=diagnose-first` becomes `-c`;
/// - a cluster of flags that ends in an option with its value, as getopt reads it: `sort -nrk2` is `-n -r -k2`,
///   `bunzip2 -cp2` is `-c -p2`. A cluster with a letter the command does not know is left for the parser to refuse.
public enum GNUSpellings {
    /// A command's one-letter flags and the letters that take a value.
    struct Letters {
        let flags: Set<Character>
        let valued: Set<Character>
    }

    static let commands: [String: Letters] = {
        let bzip2 = Letters(flags: Set("dztckfvq123456789"), valued: Set("pbm"))
        return ["sort": Letters(flags: Set("nrusbcCmfdighMVzR"), valued: Set("otkST")), "bzip2": bzip2, "bunzip2": bzip2, "bzcat": bzip2]
    }()

    public static func rewrite(_ arguments: [String]) -> [String] {
        guard let index = arguments.firstIndex(where: { !$0.hasPrefix("-") }), let letters = commands[arguments[index]] else {
            return arguments
        }
        var rewritten = Array(arguments[...index])
        var ended = false
        for argument in arguments[(index + 1)...] {
            if argument == "--" { ended = true }
            if ended {
                rewritten.append(argument)
                continue
            }
            let isSort = arguments[index] == "sort"
            if isSort, argument == "--check=quiet" || argument == "--check=silent" {
                rewritten.append("-C")
            } else if isSort, argument == "--check=diagnose-first" {
                rewritten.append("-c")
            } else {
                rewritten += split(argument, letters)
            }
        }
        return rewritten
    }

    /// `-nrk2` → `-n`, `-r`, `-k2`; anything else as it is.
    static func split(_ argument: String, _ letters: Letters) -> [String] {
        guard argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.count > 2 else { return [argument] }
        let cluster = Array(argument.dropFirst())
        guard !letters.valued.contains(cluster[0]) else { return [argument] }  // -k2,2: already one option and its value
        var parts: [String] = []
        for (offset, letter) in cluster.enumerated() {
            if letters.valued.contains(letter) {
                return parts + ["-" + String(cluster[offset...])]
            }
            guard letters.flags.contains(letter) else { return [argument] }
            parts.append("-\(letter)")
        }
        return [argument]  // flags only: the parser reads those clusters itself
    }
}
