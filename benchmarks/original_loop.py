"""A faithful re-creation of the original study's training loop, the reference our pipeline is measured against.

One script per model in the original; here one function: ImageFolder with PIL decoding and torchvision transforms
per item every epoch, DataLoader(batch_size=32, shuffle=True, num_workers=0) in the main process, fp32, AdamW
(lr 1e-3, wd 1e-4), cross-entropy with label smoothing 0.1, a cosine schedule stepped per epoch, and a validation
pass after every epoch (Resize to the training size + ToTensor + Normalize). The model is the same builder ours
uses, so only the pipeline differs.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import transforms

from trainables.data import IMAGENET_MEAN, IMAGENET_STD
from trainables.resnet import build_resnet


def original_trial(train_dir: Path, val_dir: Path, *, size: int = 224, width: int = 64, epochs: int = 10,
                   batch_size: int = 32, device: str = "cpu", seed: int = 0, shortcut: bool = True,
                   se: bool = False, activation: str = "relu") -> dict:
    """Train like the original script; returns {'seconds', 'val_acc', 'epochs'}."""
    torch.manual_seed(seed)
    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.7, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    val_tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                 transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    train_set = torchvision.datasets.ImageFolder(str(train_dir), transform=train_tf)
    val_set = torchvision.datasets.ImageFolder(str(val_dir), transform=val_tf)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=0)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=batch_size, shuffle=False, num_workers=0)
    model = build_resnet(depth=34, shortcut=shortcut, se=se, activation=activation,
                         num_classes=len(train_set.classes), width=width, stem="imagenet").to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    start = time.perf_counter()
    val_acc = 0.0
    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for images, labels in val_loader:
                correct += (model(images.to(device)).argmax(1).cpu() == labels).sum().item()
        val_acc = correct / len(val_set)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return {"seconds": time.perf_counter() - start, "val_acc": val_acc, "epochs": epochs}
