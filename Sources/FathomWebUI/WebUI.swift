import Foundation
import Mustache

/// A page of the web UI: a view model its template renders.
public protocol WebPage {
    /// The template's name in ``WebUI``'s library.
    static var template: String { get }
    /// The `<title>`.
    var title: String { get }
}

/// Renders the web UI's pages from their mustache templates. Values are always HTML-escaped.
public struct WebUI: Sendable {
    let library: MustacheLibrary

    /// The stylesheet served at `/ui/style.css`.
    public static let stylesheet = LayoutTemplate.style + "\n" + ChartTemplate.style
    /// The run page's script served at `/ui/run.js`.
    public static let runScript = RunTemplate.script

    /// Every template by name: what ``WebUI`` parses, and what the escaping test reads.
    public static let templates: [String: String] = [
        "layout": LayoutTemplate.text, "runtable": PageTemplates.runTable, FlowsPage.template: PageTemplates.flows,
        FlowPage.template: PageTemplates.flow, RunsPage.template: PageTemplates.runs, RunPage.template: RunTemplate.text,
        AgentsPage.template: PageTemplates.agents, AlertsPage.template: PageTemplates.alerts, LoginPage.template: PageTemplates.login, ErrorPage.template: PageTemplates.error,
        ChartTemplate.name: ChartTemplate.text,
    ]

    public init() {
        var library = MustacheLibrary()
        for (name, text) in Self.templates {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("web UI template '\(name)' does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// The page's HTML. `signedIn` shows the sign-out button (when the coordinator has a token).
    public func render<Page: WebPage>(_ page: Page, signedIn: Bool = false) -> String {
        library.render(PageContext(page: page, signedIn: signedIn), withTemplate: Page.template) ?? ""
    }
}

/// What a template sees: the page's values, plus what the layout needs.
struct PageContext<Page: WebPage>: MustacheParent {
    let page: Page
    let signedIn: Bool

    func child(named name: String) -> Any? {
        if name == "signedIn" { return signedIn }
        return Mirror(reflecting: page).children.first { $0.label == name }.flatMap { unwrap($0.value) }
    }

    private func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first?.value
    }
}
