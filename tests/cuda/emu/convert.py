# Rewrites a .cu file for the CPU emulator: kernel<<<grid, block, smem, stream>>>(args) becomes
# emu::launch(kernel, grid, block, smem, stream)(args); dynamic shared memory comes from emu.
import re, sys, pathlib
src = pathlib.Path(sys.argv[1]).read_text()
src = re.sub(r'(\w*kernel|\w+_vec4)(<[^;]*?>)?<<<(.*?)>>>\(', lambda m: f'emu::launch({m.group(1)}{m.group(2) or ""}, {m.group(3)})(', src, flags=re.S)
src = src.replace('extern __shared__ float sm[];', 'float* sm = emu::dyn_smem<float>();')
pathlib.Path(sys.argv[2]).write_text(src)
