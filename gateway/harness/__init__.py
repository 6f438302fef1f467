"""FIX harness: codec, log readers, decoder, replay and certification.

Import from the submodules (``gateway.harness.codec``, ``gateway.harness.readers``...); this
package itself stays import-light so ``plxtra-fix decode`` starts fast.
"""

__all__: list[str] = []
