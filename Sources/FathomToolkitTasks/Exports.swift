// A flow that sorts, compresses or expires workspaces adds one import beside `import FathomSDK`:
// `import FathomToolkitTasks`, which brings the toolkit's own types (SortOptions, summaries) with it.
@_exported import FathomToolkit
