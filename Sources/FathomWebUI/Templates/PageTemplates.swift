/// The pages' templates. Each fills the layout's `body` block.
enum PageTemplates {
    static let flows = """
        {{<layout}}{{$body}}
        <h1>Flows</h1>
        {{^flows}}<p class="muted">No flows yet. Register a bundle: <code>fathom register BUNDLE</code>.</p>{{/flows}}
        {{#hasFlows}}
        <table id="flows">
        <thead><tr><th>Flow</th><th>Versions</th><th>Run config</th><th>Last run</th><th>Schedules</th></tr></thead>
        <tbody>
        {{#flows}}
        <tr class="flow" data-flow="{{name}}">
          <td><a href="{{link}}">{{name}}</a><div class="muted">{{summary}}</div></td>
          <td>v{{latestVersion}} <span class="muted">({{versionCount}} version{{#manyVersions}}s{{/manyVersions}})</span></td>
          <td>{{launcher}}{{#cluster}}<div class="muted">cluster {{cluster}}</div>{{/cluster}}{{#volumes}}<div class="muted">EFS {{volumes}}</div>{{/volumes}}{{#retries}}<div class="muted">{{retries}}</div>{{/retries}}</td>
          <td>{{#lastRun}}<span class="state {{state}}">{{state}}</span> <a href="{{link}}">{{when}}</a>{{/lastRun}}{{^lastRun}}<span class="muted">never run</span>{{/lastRun}}</td>
          <td>{{#schedules}}<div>{{timing}}{{#paused}} <span class="muted">(paused)</span>{{/paused}}</div>{{/schedules}}{{^schedules}}<span class="muted">none</span>{{/schedules}}</td>
        </tr>
        {{/flows}}
        </tbody>
        </table>
        {{/hasFlows}}
        {{/body}}{{/layout}}
        """

    static let flow = """
        {{<layout}}{{$body}}
        <h1>Flow {{name}} <span class="muted">v{{latestVersion}}</span></h1>
        <p class="muted">{{summary}}</p>
        <dl class="facts">
          <dt>Launcher</dt><dd>{{launcher}}</dd>
          {{#cluster}}<dt>ECS cluster</dt><dd>{{cluster}}</dd>{{/cluster}}
          {{#volumes}}<dt>EFS volumes</dt><dd>{{volumes}}</dd>{{/volumes}}
          <dt>Queue</dt><dd>{{queue}}</dd>
          {{#retries}}<dt>Retries</dt><dd>{{retries}}</dd>{{/retries}}
          <dt>Versions</dt><dd>{{versions}}</dd>
        </dl>
        <h2>Run</h2>
        {{#formError}}<p class="flash" id="form-error">{{formError}}</p>{{/formError}}
        <form method="post" action="{{runAction}}" id="run-form">
          <label>Version <select name="_version">{{#versionOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/versionOptions}}</select></label>
          {{#fields}}
          <label for="param-{{name}}">{{name}} <span class="hint">{{type}}{{#required}}, required{{/required}}</span>{{#error}}<span class="field-error" id="error-{{name}}">{{error}}</span>{{/error}}</label>
          {{#isBool}}<input type="hidden" name="{{name}}" value="false"><input type="checkbox" id="param-{{name}}" name="{{name}}" value="true" {{#checked}}checked{{/checked}}>{{/isBool}}
          {{#isJSON}}<textarea id="param-{{name}}" name="{{name}}" rows="3">{{value}}</textarea>{{/isJSON}}
          {{#isInput}}<input type="{{inputType}}" {{#step}}step="{{step}}"{{/step}} {{#min}}min="{{min}}"{{/min}} {{#max}}max="{{max}}"{{/max}} id="param-{{name}}" name="{{name}}" value="{{value}}" {{#required}}required{{/required}}>{{/isInput}}
          {{/fields}}
          <label>Tags <span class="hint">optional, comma-separated: nightly, team:data</span> <input type="text" id="run-tags" name="_tags" value=""></label>
          <p><button class="primary" type="submit" id="run-button">Run {{name}}</button></p>
        </form>
        <h2>Schedules</h2>
        {{#schedules}}
        <div class="schedule" data-schedule="{{name}}">
          <strong>{{name}}</strong>: {{timing}} {{#paused}}<span class="muted">(paused)</span>{{/paused}}
          {{#nextSlot}}<span class="muted">next {{nextSlot}}</span>{{/nextSlot}} {{#lastError}}<span class="late">{{lastError}}</span>{{/lastError}}
          {{#paused}}<form class="inline" method="post" action="{{resumeAction}}"><button>Resume</button></form>{{/paused}}
          {{^paused}}<form class="inline" method="post" action="{{pauseAction}}"><button>Pause</button></form>{{/paused}}
          <form class="inline" method="post" action="{{deleteAction}}"><button class="danger">Remove</button></form>
        </div>
        {{/schedules}}
        {{^schedules}}<p class="muted">No schedules.</p>{{/schedules}}
        <form method="post" action="{{scheduleAction}}" id="schedule-form">
          <label>Name <input type="text" name="name" value="{{name}}"></label>
          <label>Cron <span class="hint">minute hour day month weekday, or @daily</span> <input type="text" name="cron" placeholder="30 2 * * *"></label>
          <label>Time zone <input type="text" name="timezone" value="UTC"></label>
          <label>or Interval <span class="hint">90s, 15m, 1h, 1d</span> <input type="text" name="interval"></label>
          <p class="hint">Runs use the parameters' defaults.</p>
          <p><button type="submit">Add schedule</button></p>
        </form>
        {{#usage}}
        <h2>Last {{days}} days</h2>
        <dl class="facts" id="usage">
          <dt>Runs</dt><dd>{{runs}} ({{completed}} completed, {{failed}} failed or crashed, {{cancelled}} cancelled)</dd>
          <dt>Estimated cost</dt><dd id="usage-cost">{{cost}}</dd>
          <dt>Workspace bytes</dt><dd id="usage-workspace">{{workspace}}</dd>
        </dl>
        <div id="usage-charts">
        <h3>Runs per day</h3>
        {{#runsPerDay}}{{> chart}}{{/runsPerDay}}
        <h3>Durations</h3>
        {{#durations}}{{> chart}}{{/durations}}
        {{#hasCost}}<h3>Estimated cost per day</h3>
        {{#costPerDay}}{{> chart}}{{/costPerDay}}{{/hasCost}}
        </div>
        {{/usage}}
        <h2>Recent runs</h2>
        {{> runtable}}
        {{/body}}{{/layout}}
        """

    static let runTable = """
        {{#hasRuns}}
        <table id="runs">
        <thead><tr>{{#selectable}}<th><span class="muted">select</span></th>{{/selectable}}<th>Run</th><th>Flow</th><th>State</th><th>Created</th><th>Due</th><th>Duration</th><th>Message</th></tr></thead>
        <tbody>
        {{#runs}}
        <tr class="run" data-run="{{id}}" data-state="{{state}}">
          {{#selectable}}<td>{{#isFinal}}<input type="checkbox" name="run-{{id}}" value="on" form="bulk-retry" aria-label="select run {{shortID}}">{{/isFinal}}</td>{{/selectable}}
          <td><a href="{{link}}">{{shortID}}</a>{{#attemptText}} <span class="muted">{{attemptText}}</span>{{/attemptText}}</td>
          <td>{{flow}} <span class="muted">v{{version}}</span></td>
          <td><span class="state {{state}}">{{state}}</span>{{#late}} <span class="late">late</span>{{/late}}</td>
          <td>{{created}}</td><td>{{due}}</td><td>{{duration}}</td><td class="message">{{message}}</td>
        </tr>
        {{/runs}}
        </tbody>
        </table>
        {{/hasRuns}}
        {{^hasRuns}}<p class="muted" id="no-runs">No runs.</p>{{/hasRuns}}
        """

    static let runs = """
        {{<layout}}{{$body}}
        <h1>Runs</h1>
        <div class="muted">Runs made per hour, last 24 hours</div>
        {{#activity}}{{> chart}}{{/activity}}
        <form class="filters" method="get" action="/runs" id="run-filters">
          <label>Flow<br><select name="flow"><option value="">all</option>{{#flowOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/flowOptions}}</select></label>
          <label>State<br><select name="state"><option value="">all</option>{{#stateOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/stateOptions}}</select></label>
          <label>Created<br><select name="since">{{#sinceOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/sinceOptions}}</select></label>
          <label><input type="checkbox" name="upcoming" value="1" {{#upcoming}}checked{{/upcoming}}> upcoming scheduled runs</label>
          <button type="submit">Filter</button>
        </form>
        <form method="post" action="/runs" id="bulk-retry" class="bulk">
          <button type="submit" name="action" value="resume" id="bulk-resume">Retry selected from failure</button>
          <button type="submit" name="action" value="retry" id="bulk-rerun">Run selected again</button>
          <span class="muted">each selected finished run gets one new attempt; from failure reuses the tasks it finished</span>
        </form>
        {{> runtable}}
        <div class="pager"><span class="muted">{{pageText}}</span>{{#newerLink}}<a href="{{newerLink}}" id="newer">← newer</a>{{/newerLink}}{{#olderLink}}<a href="{{olderLink}}" id="older">older →</a>{{/olderLink}}</div>
        {{/body}}{{/layout}}
        """

    static let agents = """
        {{<layout}}{{$body}}
        <h1>Agents</h1>
        {{^agents}}<p class="muted">No agent has registered. Start one: <code>fathom agent</code>.</p>{{/agents}}
        {{#hasAgents}}
        <table id="agents">
        <thead><tr><th>Agent</th><th>Queue</th><th>Launcher</th><th>Labels</th><th>Last seen</th><th>Runs in flight</th></tr></thead>
        <tbody>
        {{#agents}}
        <tr class="agent"><td>{{name}}</td><td>{{queue}}</td><td>{{launcher}}</td><td>{{labels}}</td><td>{{lastSeen}} <span class="muted">({{ago}} ago)</span>{{#stale}} <span class="late">not polling</span>{{/stale}}</td><td><a href="{{runsLink}}">{{inFlight}}</a></td></tr>
        {{/agents}}
        </tbody>
        </table>
        {{/hasAgents}}
        {{/body}}{{/layout}}
        """

    static let alerts = """
        {{<layout}}{{$body}}
        <h1>Alerts</h1>
        <p class="muted">The coordinator sends these itself when runs end, fail or are late. Add rules with <code>fathom alert add</code>; try one with <code>fathom alert test NAME</code>.</p>
        {{^hasRules}}<p class="muted" id="no-rules">No alert rules. Add one: <code>fathom alert add --on Failed,Crashed --webhook URL</code>.</p>{{/hasRules}}
        {{#hasRules}}
        <table id="alert-rules">
        <thead><tr><th>Rule</th><th>On</th><th>Flows</th><th>Targets</th><th>Added</th><th></th></tr></thead>
        <tbody>
        {{#rules}}
        <tr class="alert-rule" data-rule="{{name}}"><td>{{name}}</td><td>{{triggers}}</td><td>{{flows}}</td><td>{{#targets}}<div>{{kind}} <code>{{url}}</code>{{#signed}} <span class="muted">signed</span>{{/signed}}</div>{{/targets}}</td><td>{{created}}</td>
          <td><form class="inline" method="post" action="{{testAction}}"><button class="test-rule">Send a test</button></form>
          <form class="inline" method="post" action="{{deleteAction}}"><button class="danger remove-rule">Remove</button></form></td></tr>
        {{/rules}}
        </tbody>
        </table>
        {{/hasRules}}
        <h2>Add a rule</h2>
        <form method="post" action="/alerts" id="alert-form">
          <label>Name <span class="hint">optional</span> <input type="text" name="name" value="{{entered.name}}"></label>
          <div>On {{#triggerChoices}}<label class="inline"><input type="checkbox" name="on-{{value}}" value="on" {{#checked}}checked{{/checked}}> {{value}}</label> {{/triggerChoices}}</div>
          <label>Running longer than <span class="hint">a deadline: 90m, 2h</span> <input type="text" name="runningLongerThan" value="{{entered.runningLongerThan}}"></label>
          <label>Not started within <span class="hint">after it fell due: 10m</span> <input type="text" name="late" value="{{entered.late}}"></label>
          <label>Flows <span class="hint">comma-separated; empty: every flow</span> <input type="text" name="flows" value="{{entered.flows}}"></label>
          <label>Tags <span class="hint">comma-separated; a run needs every one</span> <input type="text" name="tags" value="{{entered.tags}}"></label>
          <label>Target <select name="kind">{{#kindChoices}}<option value="{{value}}" {{#checked}}selected{{/checked}}>{{value}}</option>{{/kindChoices}}</select>
            <input type="text" name="target" placeholder="https://alerts.example.com/fathom, a Slack webhook URL, or ops@example.com" value="{{entered.target}}"></label>
          <p><button class="primary" type="submit" id="add-rule">Add rule</button></p>
        </form>
        <h2>Deliveries</h2>
        {{^hasDeliveries}}<p class="muted" id="no-deliveries">Nothing sent yet.</p>{{/hasDeliveries}}
        {{#hasDeliveries}}
        <table id="alert-deliveries">
        <thead><tr><th>When</th><th>Status</th><th>Rule</th><th>Event</th><th>Target</th><th>Attempts</th><th>HTTP</th><th>Last error</th></tr></thead>
        <tbody>
        {{#deliveries}}
        <tr class="alert-delivery"><td>{{created}}</td><td>{{#failed}}<span class="late">{{status}}</span>{{/failed}}{{^failed}}{{status}}{{/failed}}{{#pending}}{{#next}} <span class="muted">next {{next}}</span>{{/next}}{{/pending}}</td><td>{{rule}}</td><td>{{#runLink}}<a href="{{runLink}}">{{event}}</a>{{/runLink}}{{^runLink}}{{event}}{{/runLink}}</td><td><code>{{target}}</code></td><td>{{attempts}}</td><td>{{lastStatus}}</td><td>{{error}}</td></tr>
        {{/deliveries}}
        </tbody>
        </table>
        {{/hasDeliveries}}
        {{/body}}{{/layout}}
        """

    static let login = """
        {{<layout}}{{$body}}
        <h1>Sign in</h1>
        <p class="muted">This coordinator requires its API token.</p>
        <form method="post" action="/login" id="login-form">
          <input type="hidden" name="next" value="{{next}}">
          <label for="token">Token{{#error}}<span class="field-error">{{error}}</span>{{/error}}</label>
          <input type="password" id="token" name="token" autocomplete="current-password" autofocus>
          <p><button class="primary" type="submit">Sign in</button></p>
        </form>
        {{/body}}{{/layout}}
        """

    static let error = """
        {{<layout}}{{$body}}
        <h1>{{heading}}</h1>
        <p class="message" id="error-message">{{message}}</p>
        <p><a href="/">Back to flows</a></p>
        {{/body}}{{/layout}}
        """
}
