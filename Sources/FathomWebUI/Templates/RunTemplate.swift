/// The run page, and the script that appends new log lines and state changes as they happen.
enum RunTemplate {
    static let text = """
        {{<layout}}{{$body}}
        <h1>Run <span class="muted">{{id}}</span></h1>
        <p>
          <a href="{{flowLink}}">{{flow}}</a> v{{version}} ·
          <span class="state {{state}}" id="run-state">{{state}}</span>{{#late}} <span class="late">late</span>{{/late}}
          {{#duration}}· ran {{duration}}{{/duration}}{{#due}}· due {{due}}{{/due}}
          {{#attemptText}}· {{attemptText}}{{/attemptText}}
          {{#firstAttemptLink}}· <a href="{{firstAttemptLink}}">first attempt</a>{{/firstAttemptLink}}
          {{#tags}}<span class="tag">{{.}}</span> {{/tags}}
          {{#resumedLink}}· resumes <a href="{{resumedLink}}" id="resumed-link">the attempt before</a>{{/resumedLink}}
        </p>
        {{#stateMessage}}<p class="message" id="state-message">{{stateMessage}}</p>{{/stateMessage}}
        <p>
          {{#canCancel}}<form class="inline" method="post" action="{{cancelAction}}" id="cancel-form"><button class="danger" id="cancel-button">Cancel</button></form>{{/canCancel}}
          {{#canRetry}}<form class="inline" method="post" action="{{retryAction}}" id="retry-form"><button id="retry-button">Retry</button></form>
          <form class="inline" method="post" action="{{resumeAction}}" id="resume-form"><button id="resume-button" title="Run again, reusing the results of the tasks this run finished">Retry from failure</button></form>{{/canRetry}}
        </p>
        <h2>Parameters</h2>
        <dl class="facts" id="parameters">{{#parameters}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/parameters}}{{^parameters}}<dt>none</dt><dd></dd>{{/parameters}}</dl>
        <h2>Timeline</h2>
        <ul class="timeline" id="timeline">
        {{#timeline}}<li><span class="state {{state}}">{{state}}</span> <span class="muted">{{at}}</span>{{#message}}<div class="message">{{message}}</div>{{/message}}</li>{{/timeline}}
        </ul>
        <h2>Task runs</h2>
        {{#gantt}}{{> chart}}{{/gantt}}
        {{#hasTasks}}
        <table id="task-runs"><thead><tr><th>Task</th><th>State</th><th>Attempt</th><th>Started</th><th>Duration</th><th>Message</th><th>Result</th></tr></thead>
        <tbody>{{#tasks}}<tr><td>{{name}}</td><td><span class="state {{state}}">{{state}}</span>{{#cachedFromLink}} <a href="{{cachedFromLink}}" class="muted">from run</a>{{/cachedFromLink}}</td><td>{{attempt}}</td><td>{{started}}</td><td>{{duration}}</td><td class="message">{{message}}</td><td class="message">{{result}}</td></tr>{{/tasks}}</tbody></table>
        {{/hasTasks}}
        {{^hasTasks}}<p class="muted">No task runs.</p>{{/hasTasks}}
        {{#cost}}<p id="run-cost"><strong>Cost:</strong> {{cost}} <span class="muted">{{costBasis}}</span></p>{{/cost}}
        {{^cost}}{{#costBasis}}<p id="run-cost" class="muted">{{costBasis}}</p>{{/costBasis}}{{/cost}}
        {{#workspace}}<p id="run-workspace"><strong>Workspace at the end:</strong> {{workspace}}</p>{{/workspace}}
        <h2>Infrastructure</h2>
        <dl class="facts" id="infrastructure">
        {{#infrastructure}}<dt>{{name}}</dt><dd>{{#link}}<a href="{{link}}" rel="noopener noreferrer" target="_blank">{{value}}</a>{{/link}}{{^link}}{{value}}{{/link}}</dd>{{/infrastructure}}
        {{^infrastructure}}<dt>none yet</dt><dd></dd>{{/infrastructure}}
        </dl>
        {{#hasAttempts}}
        <h2>Attempts</h2>
        <ul>{{#attempts}}<li><a href="{{link}}">attempt {{attempt}}</a> <span class="state {{state}}">{{state}}</span></li>{{/attempts}}</ul>
        {{/hasAttempts}}
        <h2>Logs</h2>
        {{#earlierLines}}<p class="muted" id="earlier-lines">{{earlierLines}} earlier lines are not shown. <a href="{{allLinesLink}}">All lines, as text</a></p>{{/earlierLines}}
        <pre class="logs" id="logs" data-events="{{eventsURL}}" data-after="{{lastSeq}}" data-final="{{isFinal}}">{{#logs}}<span class="{{level}}">{{line}}</span>
        {{/logs}}</pre>
        <noscript>{{^isFinal}}<meta http-equiv="refresh" content="5">{{/isFinal}}</noscript>
        <script src="/ui/run.js"></script>
        {{/body}}{{/layout}}
        """

    /// Follows `/runs/{id}/events` (Server-Sent Events): `log` events append lines, `state` events update the
    /// badge, and a final state reloads the page once so the timeline, task runs and buttons are current.
    /// Text goes in with `textContent`, never as HTML.
    static let script = """
        (function () {
          var logs = document.getElementById('logs');
          if (!logs || !window.EventSource) return;
          var badge = document.getElementById('run-state');
          var url = logs.dataset.events + '?after=' + encodeURIComponent(logs.dataset.after);
          var source = new EventSource(url);
          source.addEventListener('log', function (event) {
            var line = JSON.parse(event.data);
            var span = document.createElement('span');
            span.className = line.level;
            span.textContent = line.text + '\\n';
            logs.appendChild(span);
            logs.scrollTop = logs.scrollHeight;
          });
          source.addEventListener('state', function (event) {
            var update = JSON.parse(event.data);
            if (badge.textContent !== update.state) {
              badge.textContent = update.state;
              badge.className = 'state ' + update.state;
            }
            if (update.final && logs.dataset.final !== 'true') { source.close(); setTimeout(function () { location.reload(); }, 300); }
          });
          source.addEventListener('end', function () { source.close(); });
        })();
        """
}
