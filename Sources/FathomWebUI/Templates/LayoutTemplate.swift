/// The page frame every page fills: head, navigation, flash message, and the page's `body` block.
///
/// Every value is rendered with `{{name}}`, which HTML-escapes it (`< > & " '`); templates never use
/// the unescaped forms, and a test checks that.
enum LayoutTemplate {
    static let text = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Fathom</title>
        <link rel="stylesheet" href="/ui/style.css">
        </head>
        <body>
        <header class="top">
          <a class="brand" href="/">Fathom</a>
          <nav>
            <a href="/flows" {{#navFlows}}class="active"{{/navFlows}}>Flows</a>
            <a href="/runs" {{#navRuns}}class="active"{{/navRuns}}>Runs</a>
            <a href="/agents" {{#navAgents}}class="active"{{/navAgents}}>Agents</a>
            <a href="/alerts" {{#navAlerts}}class="active"{{/navAlerts}}>Alerts</a>
          </nav>
          {{#signedIn}}<form method="post" action="/logout" class="logout"><button>Sign out</button></form>{{/signedIn}}
        </header>
        <main>
        {{#flash}}<p class="flash" id="flash">{{flash}}</p>{{/flash}}
        {{$body}}{{/body}}
        </main>
        </body>
        </html>
        """

    static let style = """
        :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb; --accent:#2859c5; }
        * { box-sizing: border-box; }
        body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
        header.top { display:flex; align-items:center; gap:24px; padding:10px 24px; background:#101828; color:#fff; }
        header.top a { color:#d0d5dd; text-decoration:none; margin-right:16px; }
        header.top a.active, header.top a:hover { color:#fff; }
        header.top .brand { font-weight:700; color:#fff; font-size:16px; }
        header.top .logout { margin-left:auto; }
        main { padding:20px 24px; max-width:1280px; }
        h1 { font-size:20px; margin:0 0 12px; } h2 { font-size:16px; margin:22px 0 8px; }
        table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
        th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
        th { background:#f2f4f7; font-weight:600; color:#344054; }
        a { color:var(--accent); }
        .muted { color:var(--muted); }
        .tag { display:inline-block; padding:0 6px; border-radius:8px; background:#eef4ff; color:#3538cd; font-size:12px; }
        .state { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#eaecf0; }
        .state.Completed { background:#d1fadf; color:#05603a; } .state.Failed, .state.Crashed { background:#fee4e2; color:#912018; }
        .state.Running, .state.Pending { background:#d1e9ff; color:#1849a9; } .state.Cancelled, .state.Cancelling { background:#f2f4f7; color:#475467; }
        .state.Scheduled { background:#fef0c7; color:#93370d; } .state.Retrying { background:#ebe9fe; color:#4a1fb8; } .state.Cached { background:#e0f2fe; color:#075985; }
        .late { color:#b42318; font-weight:600; }
        pre.logs { background:#0c111d; color:#e4e7ec; padding:10px; min-height:120px; max-height:520px; overflow:auto; font-size:12px; white-space:pre-wrap; }
        .logs .warning { color:#fec84b; } .logs .error, .logs .critical { color:#fda29b; }
        form.inline { display:inline; }
        button, .button { font:inherit; padding:5px 12px; border-radius:6px; border:1px solid #d0d5dd; background:#fff; cursor:pointer; }
        button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
        button.danger { color:#b42318; border-color:#fda29b; }
        label { display:block; font-weight:600; margin-top:10px; }
        input[type=text], input[type=number], input[type=password], textarea, select { font:inherit; padding:5px 8px; border:1px solid #d0d5dd; border-radius:6px; min-width:280px; }
        label > input, label > select { font-weight:400; margin-left:6px; }
        .field-error { color:#b42318; margin-left:8px; font-weight:400; }
        .hint { color:var(--muted); font-weight:400; margin-left:6px; }
        .flash { background:#fef3f2; border:1px solid #fda29b; padding:8px 12px; border-radius:6px; }
        .flash.ok { background:#ecfdf3; border-color:#6ce9a6; }
        dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; background:#fff; padding:10px; border:1px solid var(--line); }
        dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; word-break:break-all; }
        .timeline { list-style:none; padding:0; margin:0; border-left:2px solid var(--line); }
        .timeline li { margin:0 0 8px 0; padding-left:12px; }
        .message { white-space:pre-wrap; }
        .filters { display:flex; gap:10px; align-items:end; margin-bottom:12px; flex-wrap:wrap; }
        .filters label { margin:0; font-weight:400; } .filters select, .filters input { min-width:0; }
        .pager { margin-top:10px; display:flex; gap:12px; align-items:center; }
        """
}
