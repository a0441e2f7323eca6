// Starts GraphiQL (spaces-oauth): its settings come from the page's JSON block, so the
// Content-Security-Policy can forbid inline scripts. Queries go to this page's own
// path; subscriptions to /graphql/ws on the same host.
(function () {
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var ws = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host;
  var fetcher = GraphiQL.createFetcher({
    url: window.location.pathname,
    subscriptionUrl: ws + config.subscriptionPath,
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: config.headers,
      headerEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
    })
  );
})();
