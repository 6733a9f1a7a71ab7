// Runs in any realm, first thing in modules whose objects are Disposable. Browsers without
// explicit resource management (Safari/WebKitGTK 2.50) have no Symbol.dispose; transpiled
// `using` blocks then look for Symbol.for('Symbol.dispose') (the key Babel's and oxc's
// helpers use), so define it as that, and views keyed by it are disposable everywhere.
const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('Symbol.dispose');
symbols.asyncDispose ??= Symbol.for('Symbol.asyncDispose');

export {};
