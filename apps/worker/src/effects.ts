import type { RunDeps, TenantState } from './ports.ts';

/**
 * The run's dependencies with every call a quiet run (ADR 0136) cannot make announced to `onCall`
 * before it is made: a cursor or a health state written, a finding imported, a rejected record kept,
 * a destination's health saved, and a stream's seen-set read (a read, but one a run only needs when
 * something may be new: ADR 0128). Vaikora and the tenant's state are read freely. A run that made none
 * of these calls was quiet; a run without the lease stops at its first (`onCall` throws, and the call
 * is never made).
 */
export function watchEffects(deps: RunDeps, onCall: () => void): RunDeps {
  const { state, store, healthState, importer } = deps;
  return {
    ...deps,
    state: {
      ...state,
      readTenant: async (...args) => watchSeenReads(await state.readTenant(...args), onCall),
      advanceCursor: (...args) => {
        onCall();
        return state.advanceCursor(...args);
      },
    },
    store: {
      ...store,
      recordRejections: (...args) => {
        onCall();
        return store.recordRejections(...args);
      },
      saveDestinationHealth: (...args) => {
        onCall();
        return store.saveDestinationHealth(...args);
      },
    },
    healthState:
      healthState === undefined
        ? undefined
        : {
            ...healthState,
            saveOpenHealth: (...args) => {
              onCall();
              return healthState.saveOpenHealth(...args);
            },
          },
    importer: (route) => {
      const inner = importer(route);
      return {
        importFindings: (findings) => {
          onCall();
          return inner.importFindings(findings);
        },
      };
    },
  };
}

/** The tenant's state with each seen-set read announced to `onCall` first (see `watchEffects`). */
export function watchSeenReads(state: TenantState, onCall: () => void): TenantState {
  return {
    ...(state.openHealth === undefined ? {} : { openHealth: state.openHealth }),
    ...(state.alone === undefined ? {} : { alone: state.alone }),
    cursor: (streamId) => state.cursor(streamId),
    stream: (streamId) => {
      onCall();
      return state.stream(streamId);
    },
  };
}
