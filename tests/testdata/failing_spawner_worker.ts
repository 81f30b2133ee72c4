/// <reference lib="deno.worker" />
/**
 * The real spawner worker, made to die the way a bug in it would (an uncaught error) right
 * after it has reported its first child spawned: the fault `Spawner` must survive.
 *
 * @module
 */
import "../../src/supervisor/spawner_worker.ts";

const post = self.postMessage.bind(self);
self.postMessage = (message: { type: string }) => {
  post(message);
  if (message.type === "spawned") {
    setTimeout(() => {
      throw new Error("injected worker fault");
    });
  }
};
