"""Write the tiny CPU fixture ``data/faces_tiny/``: 15 drawn faces + scikit-image's astronaut face, 128x128.

Usage: python scripts/make_faces_tiny.py [--out data/faces_tiny] [--size 128]
Also writes ``meta_info.txt`` (BasicSR layout: ``name (h,w,c)`` per line).
"""
import argparse
import os

import cv2
import skimage.data

from panini_arch.data.synthetic_faces import draw_face


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/faces_tiny')
    parser.add_argument('--size', type=int, default=128)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    faces = [draw_face(args.size, seed) for seed in range(15)]
    astronaut = skimage.data.astronaut()[20:240, 130:350, ::-1]
    faces.append(cv2.resize(astronaut, (args.size, args.size), interpolation=cv2.INTER_AREA))
    lines = []
    for i, face in enumerate(faces):
        name = f'{i:04d}.png'
        cv2.imwrite(os.path.join(args.out, name), face)
        lines.append(f'{name} ({args.size},{args.size},3)\n')
    with open(os.path.join(args.out, 'meta_info.txt'), 'w', encoding='utf-8') as f:
        f.writelines(lines)
    print(f'wrote {len(faces)} faces to {args.out}')


if __name__ == '__main__':
    main()
