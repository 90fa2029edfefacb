"""Read a test set item by item so that one unreadable pair is reported, not fatal.

:class:`ItemsOrErrors` wraps any dataset: an item that raises becomes
``{'error': reason, 'lq_path': ...}``; :func:`collate_items` batches the good
items (``None`` when there are none) and returns the errors beside them.
"""
from torch.utils.data import Dataset, default_collate


class ItemsOrErrors(Dataset):
    """``dataset[i]``, or a dict naming the item and why it could not be read."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def item_name(self, index):
        """The LQ and GT paths of item ``index`` when the dataset lists them (BasicSR's ``paths``: dicts of a
        paired dataset, LQ paths of ``SingleImageDataset``)."""
        paths = getattr(self.dataset, 'paths', None)
        if paths is not None and isinstance(paths[index], dict):
            return ' / '.join(str(v) for k, v in sorted(paths[index].items()) if k.endswith('_path'))
        if paths is not None and isinstance(paths[index], str):
            return paths[index]
        return f'item {index}'

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except Exception as error:  # reported per item by the caller
            return {'error': f'{type(error).__name__}: {error}', 'lq_path': self.item_name(index)}


def collate_items(items):
    """``(batch or None, [(name, reason)])`` from a list of :class:`ItemsOrErrors` items."""
    good = [item for item in items if 'error' not in item]
    errors = [(item['lq_path'], item['error']) for item in items if 'error' in item]
    return (default_collate(good) if good else None), errors
