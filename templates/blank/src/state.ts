// What a replica keeps between requests. Add your protocol's state here (the
// log, the ballot it promised, the instance space...): each Replica has its
// own, which its handlers reach as `context.state`, so several replicas can
// share one process (as on the in-memory network).
export class State {}
