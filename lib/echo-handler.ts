// The echo handler as a module, for engines with several loops (each loads it).
import type { Conn } from './conn';

export default {
  onTraffic(c: Conn): void {
    c.write(c.next());
  },
};
