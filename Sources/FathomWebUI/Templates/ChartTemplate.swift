/// The SVG every chart is drawn with (a partial: `{{#chart}}{{>chart}}{{/chart}}`). Numbers come computed; every
/// text and title goes through the template's HTML escaping, which SVG inside HTML reads back as text.
enum ChartTemplate {
    static let name = "chart"

    static let text = """
        {{^isEmpty}}<svg class="chart" id="{{id}}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="{{summary}}">
        {{#lines}}<line class="axis" x1="{{x1}}" y1="{{y1}}" x2="{{x2}}" y2="{{y2}}"/>{{/lines}}
        {{#bars}}{{#link}}<a href="{{link}}">{{/link}}<rect class="bar {{kind}}" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{title}}</title></rect>{{#link}}</a>{{/link}}
        {{/bars}}{{#dots}}<a href="{{link}}"><circle class="dot {{kind}}" cx="{{cx}}" cy="{{cy}}" r="4"><title>{{title}}</title></circle></a>
        {{/dots}}{{#labels}}<text class="label" x="{{x}}" y="{{y}}" text-anchor="{{anchor}}">{{text}}</text>{{/labels}}
        </svg>{{/isEmpty}}{{#isEmpty}}<p class="muted chart-empty">Nothing to draw yet.</p>{{/isEmpty}}
        """

    /// The charts' colours, in the page's stylesheet.
    static let style = """
        svg.chart { display:block; background:#fff; border:1px solid var(--line); margin:6px 0 12px; max-width:100%; height:auto; }
        svg.chart .axis { stroke:#98a2b3; stroke-width:1; } svg.chart .label { font-size:11px; fill:var(--muted); }
        svg.chart .Completed { fill:#32d583; } svg.chart .Failed { fill:#f04438; } svg.chart .Cancelled { fill:#98a2b3; }
        svg.chart .Running { fill:#53b1fd; } svg.chart .Retrying { fill:#9b8afb; } svg.chart .Cached { fill:#7cd4fd; }
        svg.chart .Other { fill:#fdb022; } svg.chart .cost { fill:#6172f3; } svg.chart .dot { stroke:#fff; stroke-width:1; }
        """
}
