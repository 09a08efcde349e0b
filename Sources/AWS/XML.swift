import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: enough to read AWS query and REST-XML answers.
public final class XMLElement: @unchecked Sendable {
    // Built once by the parser, then only read.
    public let name: String
    public fileprivate(set) var text = ""
    public fileprivate(set) var children: [XMLElement] = []

    init(name: String) {
        self.name = name
    }

    /// The first child with this name.
    public func child(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    /// Every child with this name.
    public func all(_ name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }

    /// Follows a path of child names.
    public func path(_ names: String...) -> XMLElement? {
        var node: XMLElement? = self
        for name in names { node = node?.child(name) }
        return node
    }

    /// The text of a child, if present.
    public func string(_ name: String) -> String? {
        child(name)?.text
    }

    /// The first element with this name anywhere below (depth-first).
    public func find(_ name: String) -> XMLElement? {
        if self.name == name { return self }
        for child in children {
            if let found = child.find(name) { return found }
        }
        return nil
    }

    /// Parses a document; nil if it is not well-formed XML.
    public static func parse(_ data: Data) -> XMLElement? {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else { return nil }
        return delegate.root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLElement?
    var stack: [XMLElement] = []

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let element = XMLElement(name: elementName)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if let last = stack.popLast(), !last.children.isEmpty {
            last.text = last.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// Builds small XML request bodies (S3 CompleteMultipartUpload).
enum XMLWriter {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
